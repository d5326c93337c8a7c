import type { Gpu } from '../gpu/device.js';
import type { PooledBuffer } from '../gpu/pool.js';
import { FLAT_INDEX, grid1d, WGSL_GELU } from './common.js';

/**
 * Elementwise kernels. Binary ops broadcast `b` over rows: b holds `bSize` elements and
 * element i of `a` pairs with b[i % bSize] (bSize = n for same shapes, = columns for a bias).
 */

function binaryWgsl(expression: string): string {
  return /* wgsl */ `
struct Params { n: u32, b_size: u32 }
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = ${FLAT_INDEX};
  if (i >= params.n) { return; }
  let x = a[i];
  let y = b[i % params.b_size];
  out[i] = ${expression};
}`;
}

const ADD = binaryWgsl('x + y');
const MUL = binaryWgsl('x * y');

function launchBinary(gpu: Gpu, name: string, wgsl: string, a: PooledBuffer, b: PooledBuffer, out: PooledBuffer, n: number, bSize: number): void {
  if (bSize < 1 || n % bSize !== 0) throw new Error(`${name}: ${n} elements do not broadcast against ${bSize}`);
  gpu.dispatch(gpu.kernel({ name, wgsl }), { a, b, out, params: { n, b_size: bSize } }, grid1d(n));
}

export function add(gpu: Gpu, a: PooledBuffer, b: PooledBuffer, out: PooledBuffer, n: number, bSize = n): void {
  launchBinary(gpu, 'add', ADD, a, b, out, n, bSize);
}

export function mul(gpu: Gpu, a: PooledBuffer, b: PooledBuffer, out: PooledBuffer, n: number, bSize = n): void {
  launchBinary(gpu, 'mul', MUL, a, b, out, n, bSize);
}

const SCALE = /* wgsl */ `
struct Params { n: u32, alpha: f32 }
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = ${FLAT_INDEX};
  if (i >= params.n) { return; }
  out[i] = params.alpha * a[i];
}`;

/** out = alpha * a */
export function scale(gpu: Gpu, a: PooledBuffer, out: PooledBuffer, n: number, alpha: number): void {
  gpu.dispatch(gpu.kernel({ name: 'scale', wgsl: SCALE }), { a, out, params: { n, alpha } }, grid1d(n));
}

const FILL_FROM_SCALAR = /* wgsl */ `
struct Params { n: u32, alpha: f32 }
@group(0) @binding(0) var<storage, read> scalar: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = ${FLAT_INDEX};
  if (i >= params.n) { return; }
  out[i] = params.alpha * scalar[0];
}`;

/** out[i] = alpha * scalar[0]: the backward of a sum or mean. */
export function fillFromScalar(gpu: Gpu, scalar: PooledBuffer, out: PooledBuffer, n: number, alpha: number): void {
  gpu.dispatch(gpu.kernel({ name: 'fillFromScalar', wgsl: FILL_FROM_SCALAR }), { scalar, out, params: { n, alpha } }, grid1d(n));
}

const GELU_FORWARD = /* wgsl */ `
${WGSL_GELU}
struct Params { n: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = ${FLAT_INDEX};
  if (i >= params.n) { return; }
  out[i] = gelu(x[i]);
}`;

export function gelu(gpu: Gpu, x: PooledBuffer, out: PooledBuffer, n: number): void {
  gpu.dispatch(gpu.kernel({ name: 'gelu', wgsl: GELU_FORWARD }), { x, out, params: { n } }, grid1d(n));
}

const GELU_BACKWARD = /* wgsl */ `
${WGSL_GELU}
struct Params { n: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = ${FLAT_INDEX};
  if (i >= params.n) { return; }
  dx[i] = dy[i] * gelu_grad(x[i]);
}`;

/** dx = dy * gelu'(x), with x the GELU's input. */
export function geluBackward(gpu: Gpu, x: PooledBuffer, dy: PooledBuffer, dx: PooledBuffer, n: number): void {
  gpu.dispatch(gpu.kernel({ name: 'geluBackward', wgsl: GELU_BACKWARD }), { x, dy, dx, params: { n } }, grid1d(n));
}
