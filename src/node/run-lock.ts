import { readFileSync, statSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileError, type FileOps } from './file-ops.js';

/** Who holds a run directory: written into DIR/train.lock. */
export interface LockHolder {
  pid: number;
  host: string;
  started: string;
  command: string;
}

export const LOCK_FILE = 'train.lock';

function describe(holder: LockHolder): string {
  return `process ${holder.pid} on ${holder.host} (${holder.command}, started ${holder.started})`;
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readHolder(path: string): LockHolder | null {
  try {
    const holder = JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
    return Number.isSafeInteger(holder.pid) && typeof holder.host === 'string' ? holder : null;
  } catch {
    return null;
  }
}

/**
 * An exclusive lock on a run directory: a file created with O_EXCL naming its holder. A lock whose
 * holder ran on this host and no longer runs (killed, or the machine restarted) is stale and is
 * taken over with a note; a live holder, or one on another host (whose liveness cannot be known),
 * is an error naming it.
 */
export class RunLock {
  private held = true;

  private constructor(readonly path: string, readonly holder: LockHolder) {}

  static acquire(ops: FileOps, dir: string, command: string, note: (message: string) => void): RunLock {
    const path = join(dir, LOCK_FILE);
    const holder: LockHolder = { pid: process.pid, host: hostname(), started: new Date().toISOString(), command };
    const bytes = new TextEncoder().encode(`${JSON.stringify(holder)}\n`);
    for (let attempt = 0; attempt < 2; attempt++) {
      let fd: number;
      try {
        fd = ops.open(path, 'wx');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const other = readHolder(path);
        // A holder writes its name right after creating the file: an unreadable lock is only stale when old.
        if (!other && Date.now() - (statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? 0) < 10_000) {
          throw new Error(`${dir} is being locked by another process this moment (${path}); try again`);
        }
        if (other && (other.host !== holder.host || processRuns(other.pid))) {
          throw new Error(`${dir} is in use by ${describe(other)}; wait for it to finish or use another --out (if it is gone, delete ${path})`);
        }
        note(`note: ${path} was left by ${other ? describe(other) : 'an unreadable lock'}, which no longer runs; taking it over`);
        ops.remove(path);
        continue;
      }
      try {
        ops.write(fd, bytes, path);
        ops.fsync(fd, path);
      } finally {
        ops.close(fd, path);
      }
      return new RunLock(path, holder);
    }
    throw new Error(`${path}: another process took the lock at the same moment; try again`);
  }

  /** Removes the lock file (synchronously, so a signal handler may call it just before exiting). */
  release(): void {
    if (!this.held) return;
    this.held = false;
    try {
      if (readHolder(this.path)?.pid === process.pid) unlinkSync(this.path);
    } catch (error) {
      throw fileError(this.path, 'remove the lock', error);
    }
  }
}
