import type { Gpu } from '../gpu/device.js';
import type { PooledBuffer } from '../gpu/pool.js';
import { FLAT_INDEX, grid1d, LANES, ROW_INDEX, rowGrid, rowLayout, WORKGROUP_SIZE, type ElementType } from './common.js';
import { columnSumsGrid, columnSumsWgsl, reductionForms, reductionShape, type ReductionShape } from './reduction-shape.js';

/**
 * LayerNorm over the last axis: y = (x - mean) * rstd * gamma + beta, biased variance,
 * rstd = 1 / sqrt(var + eps). The forward saves mean and rstd per row for the backward.
 *
 * Each kernel is generated for an element type: when cols % 4 == 0, x, gamma, beta, y, dy and dx
 * are read as vec4s (a vec4 load costs far less than four scalar ones on lavapipe), and
 * `params.cols` counts vec4s. The per-row sums add the columns one by one, in order within a
 * lane, so both element types round exactly as the scalar loop does.
 *
 * And for a reduction shape (reduction-shape.ts): 'invocation' takes one row per invocation (rows
 * are independent; lavapipe runs lanes as SIMD); 'workgroup' one row per workgroup, lane l taking
 * columns l, l + 64, ..., its partial sums added in lane order in workgroup memory. The parameter
 * gradients are column sums: one column per invocation, or 16 columns per workgroup over 16 row
 * lanes.
 */

/** WGSL: the start of a row kernel's main, after `add` (a sum plus an element's components, in order), with `n` (f32 columns per row), `first` and `stride` (this lane's columns). */
function rowKernelPrelude(element: ElementType, shape: ReductionShape): string {
  const add = `fn add(sum: f32, v: ${element}) -> f32 { return ${element === 'vec4f' ? 'sum + v.x + v.y + v.z + v.w' : 'sum + v'}; }`;
  const start = `  if (row >= params.rows) { return; }
  let base = row * params.cols;
  let n = f32(params.cols * ${LANES[element]}u);`;
  if (shape === 'invocation') {
    return /* wgsl */ `
${add}
fn row_sums(lane: u32, v: vec2f) -> vec2f { return v; }

@compute @workgroup_size(${WORKGROUP_SIZE})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = ${FLAT_INDEX};
  let lane = 0u;
  let first = 0u;
  let stride = 1u;
${start}`;
  }
  return /* wgsl */ `
${add}
var<workgroup> partials: array<vec2f, ${WORKGROUP_SIZE}>;

/** The sums of v over the workgroup's lanes, in lane order (the same in every lane). */
fn row_sums(lane: u32, v: vec2f) -> vec2f {
  partials[lane] = v;
  workgroupBarrier();
  var total = vec2f(0.0);
  for (var l = 0u; l < ${WORKGROUP_SIZE}u; l++) { total += partials[l]; }
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(${WORKGROUP_SIZE})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let row = ${ROW_INDEX};
  let first = lane;
  let stride = ${WORKGROUP_SIZE}u;
${start}`;
}

function forwardWgsl(element: ElementType, shape: ReductionShape): string {
  return /* wgsl */ `
struct Params { rows: u32, cols: u32, eps: f32 }
@group(0) @binding(0) var<storage, read> x: array<${element}>;
@group(0) @binding(1) var<storage, read> gamma: array<${element}>;
@group(0) @binding(2) var<storage, read> beta: array<${element}>;
@group(0) @binding(3) var<storage, read_write> y: array<${element}>;
@group(0) @binding(4) var<storage, read_write> stats: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;
${rowKernelPrelude(element, shape)}
  var sum = 0.0;
  for (var c = first; c < params.cols; c += stride) { sum = add(sum, x[base + c]); }
  let mean = row_sums(lane, vec2f(sum, 0.0)).x / n;
  var squares = 0.0;
  for (var c = first; c < params.cols; c += stride) { let d = x[base + c] - mean; squares = add(squares, d * d); }
  let rstd = inverseSqrt(row_sums(lane, vec2f(squares, 0.0)).x / n + params.eps);
  for (var c = first; c < params.cols; c += stride) {
    y[base + c] = (x[base + c] - mean) * rstd * gamma[c] + beta[c];
  }
  if (lane == 0u) {
    stats[2u * row] = mean;
    stats[2u * row + 1u] = rstd;
  }
}`;
}

function backwardInputWgsl(element: ElementType, shape: ReductionShape): string {
  return /* wgsl */ `
struct Params { rows: u32, cols: u32 }
@group(0) @binding(0) var<storage, read> x: array<${element}>;
@group(0) @binding(1) var<storage, read> gamma: array<${element}>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<${element}>;
@group(0) @binding(4) var<storage, read_write> dx: array<${element}>;
@group(0) @binding(5) var<uniform> params: Params;
${rowKernelPrelude(element, shape)}
  let mean = stats[2u * row];
  let rstd = stats[2u * row + 1u];
  var sum_g = 0.0;
  var sum_gx = 0.0;
  for (var c = first; c < params.cols; c += stride) {
    let g = dy[base + c] * gamma[c];
    sum_g = add(sum_g, g);
    sum_gx = add(sum_gx, g * (x[base + c] - mean) * rstd);
  }
  let means = row_sums(lane, vec2f(sum_g, sum_gx)) / n;
  let mean_g = means.x;
  let mean_gx = means.y;
  for (var c = first; c < params.cols; c += stride) {
    let xhat = (x[base + c] - mean) * rstd;
    dx[base + c] = rstd * (dy[base + c] * gamma[c] - mean_g - xhat * mean_gx);
  }
}`;
}

/** Column sums of dy * xhat and dy (with vec4f, four adjacent columns at a time). */
function backwardParamsWgsl(element: ElementType, shape: ReductionShape): string {
  return /* wgsl */ `
struct Params { rows: u32, cols: u32 }
@group(0) @binding(0) var<storage, read> x: array<${element}>;
@group(0) @binding(1) var<storage, read> stats: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<${element}>;
@group(0) @binding(3) var<storage, read_write> dgamma: array<${element}>;
@group(0) @binding(4) var<storage, read_write> dbeta: array<${element}>;
@group(0) @binding(5) var<uniform> params: Params;
${columnSumsWgsl(element, shape, [
    { name: 'sum_g', term: 'dy[i] * (x[i] - stats[2u * r]) * stats[2u * r + 1u]' },
    { name: 'sum_b', term: 'dy[i]' },
  ], `dgamma[c] = sum_g;
  dbeta[c] = sum_b;`)}`;
}

const FORWARD = reductionForms('layerNorm', forwardWgsl);
const BACKWARD_INPUT = reductionForms('layerNormBackwardInput', backwardInputWgsl);
const BACKWARD_PARAMS = reductionForms('layerNormBackwardParams', backwardParamsWgsl);

/** Workgroups for a row kernel of this shape. */
function rowKernelGrid(shape: ReductionShape, rows: number): [number, number] {
  return shape === 'invocation' ? grid1d(rows) : rowGrid(rows);
}

/** `stats` receives [rows, 2] = (mean, rstd) per row. */
export function layerNorm(
  gpu: Gpu, x: PooledBuffer, gamma: PooledBuffer, beta: PooledBuffer, y: PooledBuffer, stats: PooledBuffer,
  rows: number, cols: number, eps: number,
): void {
  const { element, width } = rowLayout(cols);
  const shape = reductionShape(gpu);
  gpu.dispatch(gpu.kernel(FORWARD[shape][element]), { x, gamma, beta, y, stats, params: { rows, cols: width, eps } }, rowKernelGrid(shape, rows));
}

export function layerNormBackward(
  gpu: Gpu, x: PooledBuffer, gamma: PooledBuffer, stats: PooledBuffer, dy: PooledBuffer,
  grads: { dx?: PooledBuffer; dgamma?: PooledBuffer; dbeta?: PooledBuffer }, rows: number, cols: number,
): void {
  const { element, width } = rowLayout(cols);
  const shape = reductionShape(gpu);
  if (grads.dx) {
    gpu.dispatch(gpu.kernel(BACKWARD_INPUT[shape][element]), { x, gamma, stats, dy, dx: grads.dx, params: { rows, cols: width } }, rowKernelGrid(shape, rows));
  }
  if (grads.dgamma || grads.dbeta) {
    if (!grads.dgamma || !grads.dbeta) throw new Error('layerNormBackward computes dgamma and dbeta together');
    gpu.dispatch(
      gpu.kernel(BACKWARD_PARAMS[shape][element]),
      { x, stats, dy, dgamma: grads.dgamma, dbeta: grads.dbeta, params: { rows, cols: width } },
      columnSumsGrid(shape, width),
    );
  }
}
