import type { Gpu } from '../gpu/device.js';
import type { PooledBuffer } from '../gpu/pool.js';
import { FLAT_INDEX, grid1d } from './common.js';

/**
 * LayerNorm over the last axis: y = (x - mean) * rstd * gamma + beta, biased variance,
 * rstd = 1 / sqrt(var + eps). The forward saves mean and rstd per row for the backward.
 * One invocation per row (rows are independent; lavapipe runs lanes as SIMD).
 */

const FORWARD = /* wgsl */ `
struct Params { rows: u32, cols: u32, eps: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> gamma: array<f32>;
@group(0) @binding(2) var<storage, read> beta: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = ${FLAT_INDEX};
  if (row >= params.rows) { return; }
  let base = row * params.cols;
  var sum = 0.0;
  for (var c = 0u; c < params.cols; c++) { sum += x[base + c]; }
  let mean = sum / f32(params.cols);
  var squares = 0.0;
  for (var c = 0u; c < params.cols; c++) { let d = x[base + c] - mean; squares += d * d; }
  let rstd = inverseSqrt(squares / f32(params.cols) + params.eps);
  for (var c = 0u; c < params.cols; c++) {
    y[base + c] = (x[base + c] - mean) * rstd * gamma[c] + beta[c];
  }
  stats[2u * row] = mean;
  stats[2u * row + 1u] = rstd;
}`;

/** `stats` receives [rows, 2] = (mean, rstd) per row. */
export function layerNorm(
  gpu: Gpu, x: PooledBuffer, gamma: PooledBuffer, beta: PooledBuffer, y: PooledBuffer, stats: PooledBuffer,
  rows: number, cols: number, eps: number,
): void {
  gpu.dispatch(gpu.kernel({ name: 'layerNorm', wgsl: FORWARD }), { x, gamma, beta, y, stats, params: { rows, cols, eps } }, grid1d(rows));
}

const BACKWARD_INPUT = /* wgsl */ `
struct Params { rows: u32, cols: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> gamma: array<f32>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = ${FLAT_INDEX};
  if (row >= params.rows) { return; }
  let base = row * params.cols;
  let mean = stats[2u * row];
  let rstd = stats[2u * row + 1u];
  var mean_g = 0.0;
  var mean_gx = 0.0;
  for (var c = 0u; c < params.cols; c++) {
    let g = dy[base + c] * gamma[c];
    mean_g += g;
    mean_gx += g * (x[base + c] - mean) * rstd;
  }
  mean_g /= f32(params.cols);
  mean_gx /= f32(params.cols);
  for (var c = 0u; c < params.cols; c++) {
    let xhat = (x[base + c] - mean) * rstd;
    dx[base + c] = rstd * (dy[base + c] * gamma[c] - mean_g - xhat * mean_gx);
  }
}`;

const BACKWARD_PARAMS = /* wgsl */ `
struct Params { rows: u32, cols: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> stats: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(4) var<storage, read_write> dbeta: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c = ${FLAT_INDEX};
  if (c >= params.cols) { return; }
  var sum_g = 0.0;
  var sum_b = 0.0;
  for (var r = 0u; r < params.rows; r++) {
    let i = r * params.cols + c;
    sum_g += dy[i] * (x[i] - stats[2u * r]) * stats[2u * r + 1u];
    sum_b += dy[i];
  }
  dgamma[c] = sum_g;
  dbeta[c] = sum_b;
}`;

export function layerNormBackward(
  gpu: Gpu, x: PooledBuffer, gamma: PooledBuffer, stats: PooledBuffer, dy: PooledBuffer,
  grads: { dx?: PooledBuffer; dgamma?: PooledBuffer; dbeta?: PooledBuffer }, rows: number, cols: number,
): void {
  if (grads.dx) {
    gpu.dispatch(gpu.kernel({ name: 'layerNormBackwardInput', wgsl: BACKWARD_INPUT }), { x, gamma, stats, dy, dx: grads.dx, params: { rows, cols } }, grid1d(rows));
  }
  if (grads.dgamma || grads.dbeta) {
    if (!grads.dgamma || !grads.dbeta) throw new Error('layerNormBackward computes dgamma and dbeta together');
    gpu.dispatch(
      gpu.kernel({ name: 'layerNormBackwardParams', wgsl: BACKWARD_PARAMS }),
      { x, stats, dy, dgamma: grads.dgamma, dbeta: grads.dbeta, params: { rows, cols } },
      grid1d(cols),
    );
  }
}
