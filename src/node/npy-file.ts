/** Files written crash-safely, and .npy files on disk. */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { encodeNpyFloat32, readNpyFloat32, type NpyArray } from '../train/npy.js';

/**
 * Writes `bytes` to a temporary file beside `path`, flushes it and renames it into place, so a
 * reader sees either the old file or the complete new one; the temporary file is removed when
 * anything fails.
 */
export function writeFileAtomically(path: string, bytes: Uint8Array | string): void {
  const temporary = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  try {
    const fd = openSync(temporary, 'w');
    try {
      const buffer = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
      for (let written = 0; written < buffer.length;) written += writeSync(fd, buffer, written, buffer.length - written);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw new Error(`cannot write '${path}': ${(error as Error).message}`);
  }
}

/** Writes a float32 [..shape] array as a .npy file, crash-safely (see writeFileAtomically). */
export function writeNpyFloat32(path: string, data: Float32Array, shape: readonly number[]): void {
  writeFileAtomically(path, encodeNpyFloat32(data, shape));
}

/** Reads a float32 .npy file (see readNpyFloat32); errors name it. */
export function readNpyFile(path: string): NpyArray {
  return readNpyFloat32(new Uint8Array(readFileSync(path)), path);
}
