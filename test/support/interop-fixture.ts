import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { FileFolder } from '../../src/formats/folder.js';
import { parseBertConfig, type BertConfig } from '../../src/model/config.js';
import { projectFixture } from './fixtures.js';

/** test/fixtures/interop, written by scripts/make-parity-fixture.py (make_interop_fixtures). */
export const INTEROP = (...parts: string[]): string => projectFixture('interop', ...parts);

export interface InteropReference {
  config: BertConfig;
  vocab: string[];
  /** TF-named weights in TF layouts. */
  weights: Map<string, { shape: number[]; data: Float32Array }>;
  texts: string[];
  /** Pooled vectors of `texts` computed by the script in float64, rounded to float32. */
  pooled: number[][];
}

export function interopReference(): InteropReference {
  const json = JSON.parse(readFileSync(INTEROP('reference.json'), 'utf8'));
  const bin = readFileSync(INTEROP('reference.bin'));
  const floats = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength));
  const weights = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const array of json.arrays) weights.set(array.name, { shape: array.shape, data: floats.slice(array.offset, array.offset + array.length) });
  return { config: parseBertConfig(json.config, 'reference.json'), vocab: json.vocab, weights, texts: json.texts, pooled: json.pooled };
}

/** Every file under `dir` (subfolders too), held in memory, as a FileFolder. */
export function memoryFolder(dir: string, replace: Record<string, Uint8Array | null> = {}): FileFolder {
  const files = new Map<string, Uint8Array>();
  const walk = (at: string): void => {
    for (const name of readdirSync(at)) {
      const path = join(at, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.set(relative(dir, path), readFileSync(path));
    }
  };
  walk(dir);
  for (const [name, bytes] of Object.entries(replace)) {
    if (bytes === null) files.delete(name);
    else files.set(name, bytes);
  }
  return {
    location: dir,
    has: async (name) => files.has(name),
    read: async (name) => {
      const bytes = files.get(name);
      if (!bytes) throw new Error(`${join(dir, name)}: no such file`);
      return bytes;
    },
    describe: (name) => join(dir, name),
  };
}
