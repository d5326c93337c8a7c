import { closeSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, renameSync, rmSync, statSync, symlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * The file operations a run directory performs, one method per system call that can fail, so
 * that tests can make the k-th of them fail (test/node/run-directory.test.ts). Every failure is
 * an Error whose message names the path and the cause (`no space left on device (ENOSPC)`).
 */
export interface FileOps {
  mkdir(path: string): void;
  /** 'w' truncates, 'a' appends, 'wx' fails when the file exists. */
  open(path: string, flags: 'w' | 'a' | 'wx'): number;
  /** Writes all of `bytes` at the file's position. */
  write(fd: number, bytes: Uint8Array, path: string): void;
  size(fd: number, path: string): number;
  truncate(fd: number, size: number, path: string): void;
  fsync(fd: number, path: string): void;
  close(fd: number, path: string): void;
  rename(from: string, to: string): void;
  symlink(target: string, path: string): void;
  /** Flushes a directory's entries (the renames in it) to disk. */
  fsyncDirectory(path: string): void;
  /** Removes a file or a directory tree; nothing when it is absent. */
  remove(path: string): void;
}

/** An Error for a failed file operation: `PATH: cannot VERB: cause (CODE)`. */
export function fileError(path: string, verb: string, error: unknown): Error {
  const code = (error as NodeJS.ErrnoException).code;
  const text = (error as Error).message ?? String(error);
  // Node's message reads "ENOSPC: no space left on device, write": keep the middle part.
  const cause = code ? /^[A-Z]+: ([^,]*)/.exec(text)?.[1] ?? text : text;
  const described = new Error(`${path}: cannot ${verb}: ${cause}${code ? ` (${code})` : ''}`) as NodeJS.ErrnoException;
  described.code = code;
  return described;
}

function attempt<T>(path: string, verb: string, body: () => T): T {
  try {
    return body();
  } catch (error) {
    throw fileError(path, verb, error);
  }
}

/** mkdir -p one level at a time: Node's recursive mkdir reports a read-only file system as ENOENT. */
function makeDirectory(path: string): void {
  try {
    mkdirSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && statSync(path).isDirectory()) return;
    if (code !== 'ENOENT' || dirname(path) === path) throw error;
    makeDirectory(dirname(path));
    mkdirSync(path);
  }
}

export const nodeFileOps: FileOps = {
  mkdir: (path) => attempt(path, 'create the directory', () => makeDirectory(path)),
  open: (path, flags) => attempt(path, flags === 'a' ? 'open for appending' : 'create', () => openSync(path, flags, 0o644)),
  write: (fd, bytes, path) =>
    attempt(path, 'write', () => {
      let written = 0;
      while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    }),
  size: (fd, path) => attempt(path, 'read the size of', () => fstatSync(fd).size),
  truncate: (fd, size, path) => attempt(path, 'truncate', () => ftruncateSync(fd, size)),
  fsync: (fd, path) => attempt(path, 'flush', () => fsyncSync(fd)),
  close: (fd, path) => attempt(path, 'close', () => closeSync(fd)),
  rename: (from, to) => attempt(to, `rename ${from} to`, () => renameSync(from, to)),
  symlink: (target, path) => attempt(path, `link to ${target} as`, () => symlinkSync(target, path)),
  fsyncDirectory: (path) =>
    attempt(path, 'flush the directory', () => {
      const fd = openSync(path, 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }),
  remove: (path) => attempt(path, 'remove', () => rmSync(path, { recursive: true, force: true })),
};

/** Writes a whole file through `ops` and flushes it to disk before closing. */
export function writeDurably(ops: FileOps, path: string, chunks: readonly Uint8Array[]): void {
  const fd = ops.open(path, 'w');
  try {
    for (const chunk of chunks) ops.write(fd, chunk, path);
    ops.fsync(fd, path);
  } finally {
    ops.close(fd, path);
  }
}
