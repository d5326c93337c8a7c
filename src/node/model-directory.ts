import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { encodeModelFiles } from '../train/model-file-bytes.js';
import type { SavedModel } from '../train/run-output.js';
import { nodeFileOps, writeDurably } from './file-ops.js';

/**
 * Writes a model directory (see MODEL_FILES) that does not exist yet: every file into a sibling
 * temporary folder, flushed, then one rename, so the directory appears whole or not at all.
 */
export function writeModelDir(dir: string, saved: SavedModel): void {
  if (existsSync(dir)) throw new Error(`${dir} already exists; a model directory is written only where nothing is`);
  const ops = nodeFileOps;
  ops.mkdir(dirname(dir));
  const staging = `${dir}.tmp-${process.pid}`;
  ops.remove(staging);
  ops.mkdir(staging);
  try {
    for (const file of encodeModelFiles(saved)) writeDurably(ops, join(staging, file.name), file.chunks);
    ops.fsyncDirectory(staging);
    ops.rename(staging, dir);
  } catch (error) {
    ops.remove(staging);
    throw error;
  }
  ops.fsyncDirectory(dirname(dir));
}
