import type { Gpu } from '../gpu/device.js';
import type { PooledBuffer } from '../gpu/pool.js';
import { componentwise, dispatchPerElement, elementForms, FLAT_INDEX, LANES, WGSL_GELU, WORKGROUP_SIZE, type ElementType, type PerElementSources } from './common.js';

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

function separateEpilogueWgsl(element: ElementType, bias: boolean, gelu: boolean): string {
  const biased = bias ? 'x[i] + bias[i % params.cols]' : 'x[i]';
  return /* wgsl */ `
${gelu ? WGSL_GELU : ''}
struct Params { n: u32, first: u32, cols: u32 }
@group(0) @binding(0) var<storage, read_write> x: array<${element}>;
${bias ? `@group(0) @binding(1) var<storage, read> bias: array<${element}>;` : ''}
${gelu ? `@group(0) @binding(2) var<storage, read_write> activated: array<${element}>;` : ''}
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(${WORKGROUP_SIZE})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let j = ${FLAT_INDEX};
  if (j >= params.n) { return; }
  let i = params.first + j;
  let z = ${biased};
  x[i] = z;
  ${gelu ? `activated[i] = ${componentwise(element, 'z', (c) => `gelu(${c})`)};` : ''}
}`;
}

const SEPARATE_EPILOGUES = new Map<string, PerElementSources>();

/**
 * The epilogue as its own pass over a product already stored in `raw` ([rows, cols] per batch
 * entry, `count` elements in all): adds the bias in place and, with GELU, writes the activation
 * to `activated` (`raw` then holds the pre-activation). For matmul versions whose fused epilogue
 * would be compiled into every one of their (large) kernels: this keeps one kernel per layout.
 */
export function separateEpilogue(gpu: Gpu, raw: PooledBuffer, count: number, cols: number, epilogue: MatmulEpilogue, activated?: PooledBuffer): void {
  const gelu = epilogue.activation === 'gelu';
  const bias = !!epilogue.bias;
  if (!bias && !gelu) return;
  if (gelu && !activated) throw new Error('a GELU epilogue needs the buffer for the activation');
  const key = `${bias}${gelu}`;
  let kernels = SEPARATE_EPILOGUES.get(key);
  if (kernels === undefined) {
    kernels = elementForms(`matmulEpilogue${bias ? '-bias' : ''}${gelu ? '-gelu' : ''}`, (element) => separateEpilogueWgsl(element, bias, gelu));
    SEPARATE_EPILOGUES.set(key, kernels);
  }
  const buffers: Record<string, PooledBuffer> = { x: raw };
  if (epilogue.bias) buffers.bias = epilogue.bias;
  if (gelu && activated) buffers.activated = activated;
  // Whole vec4s never straddle two rows when the row length is a multiple of 4.
  dispatchPerElement(gpu, kernels, buffers, count, (element) => ({ cols: cols / LANES[element] }), cols % 4 === 0);
}
