import type { Gpu } from '../gpu/device.js';
import type { PooledBuffer } from '../gpu/pool.js';
import { FLAT_INDEX, grid1d } from './common.js';

/**
 * SimBERT's in-batch similarity loss, fused: z = x / sqrt(max(|x|^2, 1e-12)) (Keras
 * l2_normalize), S = scale * z z^T with the diagonal excluded (Keras subtracts 1e12 * scale, which
 * is probability 0 in float32), loss = mean over rows i of CE(S[i], target i ^ 1).
 * Buffers: x [rows, hidden]; stats [rows, 2] = (1 / norm, |x|^2); probs [rows, rows].
 */

const NORMS = /* wgsl */ `
struct Params { rows: u32, hidden: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> stats: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = ${FLAT_INDEX};
  if (row >= params.rows) { return; }
  var squares = 0.0;
  for (var c = 0u; c < params.hidden; c++) { let value = x[row * params.hidden + c]; squares += value * value; }
  stats[2u * row] = 1.0 / sqrt(max(squares, 1e-12));
  stats[2u * row + 1u] = squares;
}`;

const SCORES = /* wgsl */ `
struct Params { rows: u32, hidden: u32, scale: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> stats: array<f32>;
@group(0) @binding(2) var<storage, read_write> probs: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let index = ${FLAT_INDEX};
  if (index >= params.rows * params.rows) { return; }
  let i = index / params.rows;
  let j = index - i * params.rows;
  var dot = 0.0;
  for (var c = 0u; c < params.hidden; c++) { dot += x[i * params.hidden + c] * x[j * params.hidden + c]; }
  probs[index] = params.scale * dot * stats[2u * i] * stats[2u * j];
}`;

// Turns the scores into probabilities in place and reduces the mean loss: one workgroup, lanes
// over rows, one barrier before lane 0 sums the per-lane partial losses.
const SOFTMAX_LOSS = /* wgsl */ `
struct Params { rows: u32 }
@group(0) @binding(0) var<storage, read_write> probs: array<f32>;
@group(0) @binding(1) var<storage, read_write> loss: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

var<workgroup> partial: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) lid: u32) {
  let n = params.rows;
  var total = 0.0;
  for (var i = lid; i < n; i += 64u) {
    let base = i * n;
    var top = -3.0e38;
    for (var j = 0u; j < n; j++) { if (j != i) { top = max(top, probs[base + j]); } }
    var sum = 0.0;
    for (var j = 0u; j < n; j++) { if (j != i) { sum += exp(probs[base + j] - top); } }
    let row_lse = top + log(sum);
    total += row_lse - probs[base + (i ^ 1u)];
    for (var j = 0u; j < n; j++) { probs[base + j] = select(exp(probs[base + j] - row_lse), 0.0, j == i); }
  }
  partial[lid] = total;
  workgroupBarrier();
  if (lid == 0u) {
    var sum_all = 0.0;
    for (var l = 0u; l < 64u; l++) { sum_all += partial[l]; }
    loss[0] = sum_all / f32(n);
  }
}`;

// dz_i = scale * sum_j (G_ij + G_ji) z_j with G = g / rows * (P - onehot(i ^ 1)); written to dx.
const BACKWARD_Z = /* wgsl */ `
struct Params { rows: u32, hidden: u32, scale: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> stats: array<f32>;
@group(0) @binding(2) var<storage, read> probs: array<f32>;
@group(0) @binding(3) var<storage, read> dloss: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let index = ${FLAT_INDEX};
  if (index >= params.rows * params.hidden) { return; }
  let n = params.rows;
  let i = index / params.hidden;
  let c = index - i * params.hidden;
  let partner = i ^ 1u;
  var acc = 0.0;
  for (var j = 0u; j < n; j++) {
    let pair = probs[i * n + j] + probs[j * n + i] - select(0.0, 2.0, j == partner);
    acc += pair * x[j * params.hidden + c] * stats[2u * j];
  }
  dx[index] = acc * params.scale * dloss[0] / f32(n);
}`;

// Through z = x / norm: dx = (dz - z (z . dz)) / norm, or dz / norm where the norm was clamped.
const BACKWARD_NORM = /* wgsl */ `
struct Params { rows: u32, hidden: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> stats: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = ${FLAT_INDEX};
  if (row >= params.rows) { return; }
  let base = row * params.hidden;
  let inv = stats[2u * row];
  var dot = 0.0;
  for (var c = 0u; c < params.hidden; c++) { dot += x[base + c] * inv * dx[base + c]; }
  if (stats[2u * row + 1u] <= 1e-12) { dot = 0.0; }
  for (var c = 0u; c < params.hidden; c++) { dx[base + c] = (dx[base + c] - x[base + c] * inv * dot) * inv; }
}`;

function checkRows(rows: number): void {
  if (rows < 2 || rows % 2 !== 0) throw new Error(`similarityLoss: rows come in pairs (2k, 2k+1); got ${rows} rows`);
}

/** loss[0] = the mean similarity cross-entropy; stats and probs are kept for the backward. */
export function similarityLoss(
  gpu: Gpu, x: PooledBuffer, stats: PooledBuffer, probs: PooledBuffer, loss: PooledBuffer, rows: number, hidden: number, scale: number,
): void {
  checkRows(rows);
  gpu.dispatch(gpu.kernel({ name: 'similarityNorms', wgsl: NORMS }), { x, stats, params: { rows, hidden } }, grid1d(rows));
  gpu.dispatch(gpu.kernel({ name: 'similarityScores', wgsl: SCORES }), { x, stats, probs, params: { rows, hidden, scale } }, grid1d(rows * rows));
  gpu.dispatch(gpu.kernel({ name: 'similaritySoftmaxLoss', wgsl: SOFTMAX_LOSS }), { probs, loss, params: { rows } }, [1]);
}

/** dx from the forward's stats and probs and the loss gradient dloss[0]. */
export function similarityLossBackward(
  gpu: Gpu, x: PooledBuffer, stats: PooledBuffer, probs: PooledBuffer, dloss: PooledBuffer, dx: PooledBuffer, rows: number, hidden: number, scale: number,
): void {
  checkRows(rows);
  gpu.dispatch(gpu.kernel({ name: 'similarityBackwardZ', wgsl: BACKWARD_Z }), { x, stats, probs, dloss, dx, params: { rows, hidden, scale } }, grid1d(rows * hidden));
  gpu.dispatch(gpu.kernel({ name: 'similarityBackwardNorm', wgsl: BACKWARD_NORM }), { x, stats, dx, params: { rows, hidden } }, grid1d(rows));
}
