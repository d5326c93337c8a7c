import type { PooledBuffer } from '../gpu/pool.js';
import { WGSL_GELU } from './common.js';

/** What every matmul kernel version shares: operand layouts and the fused epilogue. */

export type Activation = 'none' | 'gelu';

export interface MatmulShape {
  batch: number;
  m: number;
  k: number;
  n: number;
  transA?: boolean;
  transB?: boolean;
  /** b never changes while its buffer lives (an inference model's weight): a copy of it may be kept across uses. */
  constantB?: boolean;
}

export interface MatmulEpilogue {
  bias?: PooledBuffer;
  activation?: Activation;
  /** Required with GELU: receives the pre-activation values. */
  preActivation?: PooledBuffer;
}

/** The compile-time choices of one matmul pipeline. */
export interface MatmulOptions {
  transA: boolean;
  transB: boolean;
  bias: boolean;
  activation: Activation;
}

/** GELU (when used) and the epilogue's bindings 4 (bias) and 5 (pre-activation output). */
export function epilogueWgsl(v: MatmulOptions): string {
  const lines = [v.activation === 'gelu' ? WGSL_GELU : ''];
  if (v.bias) lines.push('@group(0) @binding(4) var<storage, read> bias: array<f32>;');
  if (v.activation === 'gelu') lines.push('@group(0) @binding(5) var<storage, read_write> pre: array<f32>;');
  return lines.join('\n');
}

/**
 * WGSL storing `value` at (row, col) of the batch entry starting at c_base in `out` (row length
 * params.n), through the epilogue; row and col must be in range.
 */
export function storeWgsl(v: MatmulOptions, value: string): string {
  const biased = v.bias ? `${value} + bias[col]` : value;
  const body = v.activation === 'gelu' ? `let z = ${biased}; pre[o] = z; out[o] = gelu(z);` : `out[o] = ${biased};`;
  return `let o = c_base + row * params.n + col; ${body}`;
}

/** The epilogue's buffers by binding name. */
export function epilogueBindings(epilogue: MatmulEpilogue): Record<string, PooledBuffer> {
  const bindings: Record<string, PooledBuffer> = {};
  if (epilogue.bias) bindings.bias = epilogue.bias;
  if (epilogue.preActivation) bindings.pre = epilogue.preActivation;
  return bindings;
}
