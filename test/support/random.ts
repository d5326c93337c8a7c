/** Seeded random test inputs (mulberry32), so a failure reproduces. */
export function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomArray(size: number, seed: number, scale = 1): Float32Array {
  const next = rng(seed);
  return Float32Array.from({ length: size }, () => (next() * 2 - 1) * scale);
}

export function randomInts(size: number, max: number, seed: number): number[] {
  const next = rng(seed);
  return Array.from({ length: size }, () => Math.floor(next() * max));
}
