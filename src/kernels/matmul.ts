import type { Gpu } from '../gpu/device.js';
import type { PooledBuffer } from '../gpu/pool.js';
import { WGSL_GELU } from './common.js';

/**
 * Batched matmul: out[b] = epilogue(opA(a[b]) @ opB(b[b])), opA(a) logically [M, K] (stored [K, M]
 * when transA), opB(b) logically [K, N] (stored [N, K] when transB). The epilogue optionally adds
 * a bias of N and applies GELU; with GELU the pre-activation is written too, for the backward.
 *
 * Version 1 (this file): register tiles of TILE_M x TILE_N outputs per invocation, operands read
 * straight from storage (on lavapipe workgroup memory costs as much as a global load).
 */

export type Activation = 'none' | 'gelu';

export interface MatmulShape {
  batch: number;
  m: number;
  k: number;
  n: number;
  transA?: boolean;
  transB?: boolean;
}

export interface MatmulEpilogue {
  bias?: PooledBuffer;
  activation?: Activation;
  /** Required with GELU: receives the pre-activation values. */
  preActivation?: PooledBuffer;
}

const TILE_M = 4;
const TILE_N = 8;
const WORKGROUP_X = 8;
const WORKGROUP_Y = 8;

interface Variant {
  transA: boolean;
  transB: boolean;
  bias: boolean;
  activation: Activation;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function matmulWgsl(v: Variant): string {
  const rows = range(TILE_M);
  const cols = range(TILE_N);
  const aIndex = (i: number) => (v.transA ? `a_base + k * params.m + r${i}` : `a_row${i} + k`);
  const bIndex = (j: number) => (v.transB ? `b_col${j} + k` : `b_base + k * params.n + c${j}`);
  const bindings = [
    '@group(0) @binding(0) var<storage, read> a: array<f32>;',
    '@group(0) @binding(1) var<storage, read> b: array<f32>;',
    '@group(0) @binding(2) var<storage, read_write> out: array<f32>;',
    '@group(0) @binding(3) var<uniform> params: Params;',
  ];
  if (v.bias) bindings.push('@group(0) @binding(4) var<storage, read> bias: array<f32>;');
  if (v.activation === 'gelu') bindings.push('@group(0) @binding(5) var<storage, read_write> pre: array<f32>;');
  const store = (i: number, j: number) => {
    const value = v.bias ? `acc${i}_${j} + bias[col]` : `acc${i}_${j}`;
    const body = v.activation === 'gelu' ? `let z = ${value}; pre[o] = z; out[o] = gelu(z);` : `out[o] = ${value};`;
    return `  { let row = row0 + ${i}u; let col = col0 + ${j}u;
    if (row < params.m && col < params.n) { let o = c_base + row * params.n + col; ${body} } }`;
  };
  return /* wgsl */ `
${v.activation === 'gelu' ? WGSL_GELU : ''}
struct Params { m: u32, k: u32, n: u32, stride_a: u32, stride_b: u32, stride_c: u32 }
${bindings.join('\n')}

@compute @workgroup_size(${WORKGROUP_X}, ${WORKGROUP_Y})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let row0 = (wg.y * ${WORKGROUP_Y}u + lid.y) * ${TILE_M}u;
  let col0 = (wg.x * ${WORKGROUP_X}u + lid.x) * ${TILE_N}u;
  if (row0 >= params.m || col0 >= params.n) { return; }
  let a_base = wg.z * params.stride_a;
  let b_base = wg.z * params.stride_b;
  let c_base = wg.z * params.stride_c;
${rows.map((i) => `  let r${i} = min(row0 + ${i}u, params.m - 1u);`).join('\n')}
${cols.map((j) => `  let c${j} = min(col0 + ${j}u, params.n - 1u);`).join('\n')}
${v.transA ? '' : rows.map((i) => `  let a_row${i} = a_base + r${i} * params.k;`).join('\n')}
${v.transB ? cols.map((j) => `  let b_col${j} = b_base + c${j} * params.k;`).join('\n') : ''}
${rows.map((i) => cols.map((j) => `  var acc${i}_${j} = 0.0;`).join('\n')).join('\n')}
  for (var k = 0u; k < params.k; k++) {
${rows.map((i) => `    let a${i} = a[${aIndex(i)}];`).join('\n')}
${cols.map((j) => `    let b${j} = b[${bIndex(j)}];`).join('\n')}
${rows.map((i) => cols.map((j) => `    acc${i}_${j} = fma(a${i}, b${j}, acc${i}_${j});`).join('\n')).join('\n')}
  }
${rows.map((i) => cols.map((j) => store(i, j)).join('\n')).join('\n')}
}`;
}

const sources = new Map<string, string>();

function source(v: Variant): string {
  const key = `${v.transA}${v.transB}${v.bias}${v.activation}`;
  let wgsl = sources.get(key);
  if (wgsl === undefined) {
    wgsl = matmulWgsl(v);
    sources.set(key, wgsl);
  }
  return wgsl;
}

/** Records out = epilogue(opA(a) @ opB(b)) for every batch entry. */
export function matmul(gpu: Gpu, a: PooledBuffer, b: PooledBuffer, out: PooledBuffer, shape: MatmulShape, epilogue: MatmulEpilogue = {}): void {
  const { batch, m, k, n } = shape;
  const activation = epilogue.activation ?? 'none';
  if (activation === 'gelu' && !epilogue.preActivation) throw new Error('matmul with GELU needs a preActivation buffer');
  if (m === 0 || n === 0 || batch === 0) return;
  if (k === 0) throw new Error('matmul with K = 0 is not supported');
  const variant: Variant = { transA: !!shape.transA, transB: !!shape.transB, bias: !!epilogue.bias, activation };
  const kernel = gpu.kernel({ name: 'matmul', wgsl: source(variant) });
  const bindings: Record<string, PooledBuffer | Record<string, number>> = {
    a,
    b,
    out,
    params: { m, k, n, stride_a: m * k, stride_b: k * n, stride_c: m * n },
  };
  if (epilogue.bias) bindings.bias = epilogue.bias;
  if (epilogue.preActivation) bindings.pre = epilogue.preActivation;
  const workgroups: [number, number, number] = [
    Math.ceil(n / (TILE_N * WORKGROUP_X)),
    Math.ceil(m / (TILE_M * WORKGROUP_Y)),
    batch,
  ];
  gpu.dispatch(kernel, bindings, workgroups);
}

/**
 * Gradients of out = opA(a) @ opB(b) given dOut: dA and dB in the operands' stored layouts
 * (either may be omitted). Each is itself one matmul with the transposes rearranged.
 */
export function matmulBackward(
  gpu: Gpu,
  a: PooledBuffer,
  b: PooledBuffer,
  dOut: PooledBuffer,
  shape: MatmulShape,
  grads: { dA?: PooledBuffer; dB?: PooledBuffer },
): void {
  const { batch, m, k, n } = shape;
  const transA = !!shape.transA;
  const transB = !!shape.transB;
  if (grads.dA) {
    // dA_logical[M,K] = dOut[M,N] @ opB(b)^T; stored transposed: dA[K,M] = opB(b) @ dOut^T.
    if (!transA) matmul(gpu, dOut, b, grads.dA, { batch, m, k: n, n: k, transA: false, transB: !transB });
    else matmul(gpu, b, dOut, grads.dA, { batch, m: k, k: n, n: m, transA: transB, transB: true });
  }
  if (grads.dB) {
    // dB_logical[K,N] = opA(a)^T @ dOut; stored transposed: dB[N,K] = dOut^T @ opA(a).
    if (!transB) matmul(gpu, a, dOut, grads.dB, { batch, m: k, k: m, n, transA: !transA, transB: false });
    else matmul(gpu, dOut, a, grads.dB, { batch, m: n, k: m, n: k, transA: true, transB: transA });
  }
}
