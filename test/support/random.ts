import { mulberry32 } from '../../src/autograd/gradcheck.js';

/** Seeded random test inputs, so a failure reproduces. */
export const rng = mulberry32;

export function randomArray(size: number, seed: number, scale = 1): Float32Array {
  const next = rng(seed);
  return Float32Array.from({ length: size }, () => (next() * 2 - 1) * scale);
}

export function randomInts(size: number, max: number, seed: number): number[] {
  const next = rng(seed);
  return Array.from({ length: size }, () => Math.floor(next() * max));
}
