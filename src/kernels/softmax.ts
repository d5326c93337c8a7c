import type { Gpu } from '../gpu/device.js';
import type { PooledBuffer } from '../gpu/pool.js';
import { FLAT_INDEX, grid1d } from './common.js';

/** Softmax over the last axis, one invocation per row, max-subtracted for stability. */

const FORWARD = /* wgsl */ `
struct Params { rows: u32, cols: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = ${FLAT_INDEX};
  if (row >= params.rows) { return; }
  let base = row * params.cols;
  var top = x[base];
  for (var c = 1u; c < params.cols; c++) { top = max(top, x[base + c]); }
  var total = 0.0;
  for (var c = 0u; c < params.cols; c++) {
    let e = exp(x[base + c] - top);
    y[base + c] = e;
    total += e;
  }
  let inv = 1.0 / total;
  for (var c = 0u; c < params.cols; c++) { y[base + c] *= inv; }
}`;

export function softmax(gpu: Gpu, x: PooledBuffer, y: PooledBuffer, rows: number, cols: number): void {
  gpu.dispatch(gpu.kernel({ name: 'softmax', wgsl: FORWARD }), { x, y, params: { rows, cols } }, grid1d(rows));
}

const BACKWARD = /* wgsl */ `
struct Params { rows: u32, cols: u32 }
@group(0) @binding(0) var<storage, read> y: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = ${FLAT_INDEX};
  if (row >= params.rows) { return; }
  let base = row * params.cols;
  var dot = 0.0;
  for (var c = 0u; c < params.cols; c++) { dot += dy[base + c] * y[base + c]; }
  for (var c = 0u; c < params.cols; c++) { dx[base + c] = y[base + c] * (dy[base + c] - dot); }
}`;

/** dx = y * (dy - sum(dy * y)), from the softmax output y. */
export function softmaxBackward(gpu: Gpu, y: PooledBuffer, dy: PooledBuffer, dx: PooledBuffer, rows: number, cols: number): void {
  gpu.dispatch(gpu.kernel({ name: 'softmaxBackward', wgsl: BACKWARD }), { y, dy, dx, params: { rows, cols } }, grid1d(rows));
}
