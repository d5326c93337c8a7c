import type { Gpu } from '../gpu/device.js';
import type { PooledBuffer } from '../gpu/pool.js';
import { componentwise, dispatchPerElement, perElementKernels } from './common.js';

/**
 * Inverted dropout from a counter-based generator: whether element `index` is kept is a pure
 * function of (seed, index), so a backward pass regenerates the mask instead of storing it.
 * Element kept iff dropout_bits(seed, index) >= threshold, threshold = round(rate * 2^32).
 */

/** WGSL: the 32 random bits of element `index` under `seed` (two keyed rounds of a 32-bit mixer). */
export const WGSL_DROPOUT = /* wgsl */ `
fn dropout_mix(x: u32) -> u32 {
  var h = x;
  h ^= h >> 16u;
  h *= 0x7feb352du;
  h ^= h >> 15u;
  h *= 0x846ca68bu;
  h ^= h >> 16u;
  return h;
}

fn dropout_bits(seed: u32, index: u32) -> u32 {
  let key = dropout_mix(seed ^ 0x9e3779b9u);
  return dropout_mix(dropout_mix(index ^ key) + seed);
}
`;

export interface DropoutParams {
  seed: number;
  threshold: number;
  /** 1 / (1 - rate), applied to kept elements. */
  keepScale: number;
}

/** Uniform values of a dropout with this rate and seed (rate in [0, 1), seed any integer, used mod 2^32). */
export function dropoutParams(rate: number, seed: number): DropoutParams {
  if (!(rate >= 0 && rate < 1)) throw new Error(`dropout rate must be in [0, 1), got ${rate}`);
  if (!Number.isInteger(seed)) throw new Error(`dropout seed must be an integer, got ${seed}`);
  return { seed: seed >>> 0, threshold: Math.min(0xffffffff, Math.round(rate * 2 ** 32)), keepScale: 1 / (1 - rate) };
}

// Each component keeps the mask of its own flat element index, so the stream is the same
// whether an element goes through the vec4 or the scalar dispatch.
const DROPOUT = perElementKernels('dropout', {
  preamble: WGSL_DROPOUT,
  uniforms: 'seed: u32, threshold: u32, keep_scale: f32',
  inputs: ['x'],
  output: 'out',
  body: (element) =>
    `let v = x[i];\n  out[i] = ${componentwise(element, 'v', (c, index) => `select(0.0, ${c} * params.keep_scale, dropout_bits(params.seed, ${index}) >= params.threshold)`)};`,
});

/**
 * out = mask(seed) * x / (1 - rate). The same call on the output's gradient is the backward,
 * since the mask is regenerated from the seed.
 */
export function dropout(gpu: Gpu, x: PooledBuffer, out: PooledBuffer, n: number, rate: number, seed: number): void {
  const { threshold, keepScale } = dropoutParams(rate, seed);
  dispatchPerElement(gpu, DROPOUT, { x, out }, n, () => ({ seed: seed >>> 0, threshold, keep_scale: keepScale }));
}
