import type { Gpu } from '../gpu/device.js';
import type { PooledBuffer } from '../gpu/pool.js';
import { elementForms, FLAT_INDEX, grid1d, LANES, rowLayout, WORKGROUP_SIZE, type ElementType } from './common.js';

/**
 * LayerNorm over the last axis: y = (x - mean) * rstd * gamma + beta, biased variance,
 * rstd = 1 / sqrt(var + eps). The forward saves mean and rstd per row for the backward.
 * One invocation per row (rows are independent; lavapipe runs lanes as SIMD).
 *
 * Each kernel is generated for an element type: when cols % 4 == 0, x, gamma, beta, y, dy and dx
 * are read as vec4s (a vec4 load costs far less than four scalar ones on lavapipe), and
 * `params.cols` counts vec4s. The per-row sums still add the columns one by one, in order, so both
 * forms round exactly as the scalar loop does.
 */

/** WGSL: the start of a row kernel's main, after `add` (a sum plus an element's components, in order) and with `n` (f32 columns per row). */
function rowKernelPrelude(element: ElementType): string {
  return /* wgsl */ `
fn add(sum: f32, v: ${element}) -> f32 { return ${element === 'vec4f' ? 'sum + v.x + v.y + v.z + v.w' : 'sum + v'}; }

@compute @workgroup_size(${WORKGROUP_SIZE})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = ${FLAT_INDEX};
  if (row >= params.rows) { return; }
  let base = row * params.cols;
  let n = f32(params.cols * ${LANES[element]}u);`;
}

function forwardWgsl(element: ElementType): string {
  return /* wgsl */ `
struct Params { rows: u32, cols: u32, eps: f32 }
@group(0) @binding(0) var<storage, read> x: array<${element}>;
@group(0) @binding(1) var<storage, read> gamma: array<${element}>;
@group(0) @binding(2) var<storage, read> beta: array<${element}>;
@group(0) @binding(3) var<storage, read_write> y: array<${element}>;
@group(0) @binding(4) var<storage, read_write> stats: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;
${rowKernelPrelude(element)}
  var sum = 0.0;
  for (var c = 0u; c < params.cols; c++) { sum = add(sum, x[base + c]); }
  let mean = sum / n;
  var squares = 0.0;
  for (var c = 0u; c < params.cols; c++) { let d = x[base + c] - mean; squares = add(squares, d * d); }
  let rstd = inverseSqrt(squares / n + params.eps);
  for (var c = 0u; c < params.cols; c++) {
    y[base + c] = (x[base + c] - mean) * rstd * gamma[c] + beta[c];
  }
  stats[2u * row] = mean;
  stats[2u * row + 1u] = rstd;
}`;
}

function backwardInputWgsl(element: ElementType): string {
  return /* wgsl */ `
struct Params { rows: u32, cols: u32 }
@group(0) @binding(0) var<storage, read> x: array<${element}>;
@group(0) @binding(1) var<storage, read> gamma: array<${element}>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<${element}>;
@group(0) @binding(4) var<storage, read_write> dx: array<${element}>;
@group(0) @binding(5) var<uniform> params: Params;
${rowKernelPrelude(element)}
  let mean = stats[2u * row];
  let rstd = stats[2u * row + 1u];
  var mean_g = 0.0;
  var mean_gx = 0.0;
  for (var c = 0u; c < params.cols; c++) {
    let g = dy[base + c] * gamma[c];
    mean_g = add(mean_g, g);
    mean_gx = add(mean_gx, g * (x[base + c] - mean) * rstd);
  }
  mean_g /= n;
  mean_gx /= n;
  for (var c = 0u; c < params.cols; c++) {
    let xhat = (x[base + c] - mean) * rstd;
    dx[base + c] = rstd * (dy[base + c] * gamma[c] - mean_g - xhat * mean_gx);
  }
}`;
}

/** One invocation per column (with vec4f, four adjacent columns), looping over the rows. */
function backwardParamsWgsl(element: ElementType): string {
  return /* wgsl */ `
struct Params { rows: u32, cols: u32 }
@group(0) @binding(0) var<storage, read> x: array<${element}>;
@group(0) @binding(1) var<storage, read> stats: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<${element}>;
@group(0) @binding(3) var<storage, read_write> dgamma: array<${element}>;
@group(0) @binding(4) var<storage, read_write> dbeta: array<${element}>;
@group(0) @binding(5) var<uniform> params: Params;

@compute @workgroup_size(${WORKGROUP_SIZE})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c = ${FLAT_INDEX};
  if (c >= params.cols) { return; }
  var sum_g = ${element}(0.0);
  var sum_b = ${element}(0.0);
  for (var r = 0u; r < params.rows; r++) {
    let i = r * params.cols + c;
    sum_g += dy[i] * (x[i] - stats[2u * r]) * stats[2u * r + 1u];
    sum_b += dy[i];
  }
  dgamma[c] = sum_g;
  dbeta[c] = sum_b;
}`;
}

const FORWARD = elementForms('layerNorm', forwardWgsl);
const BACKWARD_INPUT = elementForms('layerNormBackwardInput', backwardInputWgsl);
const BACKWARD_PARAMS = elementForms('layerNormBackwardParams', backwardParamsWgsl);

/** `stats` receives [rows, 2] = (mean, rstd) per row. */
export function layerNorm(
  gpu: Gpu, x: PooledBuffer, gamma: PooledBuffer, beta: PooledBuffer, y: PooledBuffer, stats: PooledBuffer,
  rows: number, cols: number, eps: number,
): void {
  const { element, width } = rowLayout(cols);
  gpu.dispatch(gpu.kernel(FORWARD[element]), { x, gamma, beta, y, stats, params: { rows, cols: width, eps } }, grid1d(rows));
}

export function layerNormBackward(
  gpu: Gpu, x: PooledBuffer, gamma: PooledBuffer, stats: PooledBuffer, dy: PooledBuffer,
  grads: { dx?: PooledBuffer; dgamma?: PooledBuffer; dbeta?: PooledBuffer }, rows: number, cols: number,
): void {
  const { element, width } = rowLayout(cols);
  if (grads.dx) {
    gpu.dispatch(gpu.kernel(BACKWARD_INPUT[element]), { x, gamma, stats, dy, dx: grads.dx, params: { rows, cols: width } }, grid1d(rows));
  }
  if (grads.dgamma || grads.dbeta) {
    if (!grads.dgamma || !grads.dbeta) throw new Error('layerNormBackward computes dgamma and dbeta together');
    gpu.dispatch(
      gpu.kernel(BACKWARD_PARAMS[element]),
      { x, stats, dy, dgamma: grads.dgamma, dbeta: grads.dbeta, params: { rows, cols: width } },
      grid1d(width),
    );
  }
}
