import type { Gpu } from '../gpu/device.js';
import type { PooledBuffer } from '../gpu/pool.js';
import { elementForms, LANES, ROW_INDEX, rowGrid, rowLayout, type ElementType } from './common.js';
import { sumAll } from './reduce.js';

/**
 * Softmax cross-entropy over a vocabulary, fused so the probabilities are never stored: the
 * forward keeps one logsumexp per row, the backward writes (softmax - onehot) * g / count
 * straight into dlogits. Targets are i32, -1 for an ignored row.
 */

/**
 * Both kernels are generated for an element type: when vocab % 4 == 0 the logits (and dlogits)
 * are read as vec4s (a vec4 load costs far less than four scalar ones on lavapipe) and
 * `params.vocab` counts vec4s. A lane then takes four adjacent columns per step (the forward adds
 * a vec4's four exps before adding them to the lane's sum), so the vec4 lse rounds differently
 * from the scalar one, well inside the parity test's bounds.
 */
/** WGSL: the largest component and the sum of the components of `v`, an element. */
const HORIZONTAL: Record<ElementType, { max: (v: string) => string; sum: (v: string) => string }> = {
  f32: { max: (v) => v, sum: (v) => v },
  vec4f: { max: (v) => `max(max(${v}.x, ${v}.y), max(${v}.z, ${v}.w))`, sum: (v) => `(${v}.x + ${v}.y + ${v}.z + ${v}.w)` },
};

// One workgroup per row: each lane keeps an online (max, sum of exp) over a strided slice of
// the row; after one barrier every lane merges the 64 partials (same cost as one lane doing it,
// and no tree of barriers).
const FORWARD = elementForms('softmaxCrossEntropy', (element) => /* wgsl */ `
struct Params { rows: u32, vocab: u32 }
@group(0) @binding(0) var<storage, read> logits: array<${element}>;
@group(0) @binding(1) var<storage, read> targets: array<i32>;
@group(0) @binding(2) var<storage, read_write> lse: array<f32>;
@group(0) @binding(3) var<storage, read_write> losses: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

var<workgroup> part_max: array<f32, 64>;
var<workgroup> part_sum: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = ${ROW_INDEX};
  if (row >= params.rows) { return; }
  let base = row * params.vocab;
  var m = -3.0e38;
  var s = 0.0;
  for (var c = lid; c < params.vocab; c += 64u) {
    let x = logits[base + c];
    let top = ${HORIZONTAL[element].max('x')};
    if (top > m) {
      s *= exp(m - top);
      m = top;
    }
    let e = exp(x - m);
    s += ${HORIZONTAL[element].sum('e')};
  }
  part_max[lid] = m;
  part_sum[lid] = s;
  workgroupBarrier();
  if (lid != 0u) { return; }
  var top = part_max[0];
  for (var l = 1u; l < 64u; l++) { top = max(top, part_max[l]); }
  var total = 0.0;
  for (var l = 0u; l < 64u; l++) { total += part_sum[l] * exp(part_max[l] - top); }
  let row_lse = top + log(total);
  lse[row] = row_lse;
  let cls = u32(max(targets[row], 0));
  losses[row] = select(0.0, row_lse - logits[base + cls / ${LANES[element]}u]${element === 'vec4f' ? '[cls % 4u]' : ''}, targets[row] >= 0);
}`);

const INDEX_TYPE: Record<ElementType, string> = { f32: 'i32', vec4f: 'vec4i' };

// One workgroup per row like the forward: a flat grid (a lane per element) took 1.6x as long on
// lavapipe, for its per-lane division by the row length and its 64 times as many workgroups.
const BACKWARD = elementForms('softmaxCrossEntropyBackward', (element) => /* wgsl */ `
struct Params { rows: u32, vocab: u32, inv_count: f32 }
@group(0) @binding(0) var<storage, read> logits: array<${element}>;
@group(0) @binding(1) var<storage, read> targets: array<i32>;
@group(0) @binding(2) var<storage, read> lse: array<f32>;
@group(0) @binding(3) var<storage, read> dloss: array<f32>;
@group(0) @binding(4) var<storage, read_write> dlogits: array<${element}>;
@group(0) @binding(5) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = ${ROW_INDEX};
  if (row >= params.rows) { return; }
  let cls = targets[row];
  let g = dloss[0] * params.inv_count;
  let row_lse = lse[row];
  let base = row * params.vocab;
  for (var c = lid; c < params.vocab; c += 64u) {
    let column = i32(c * ${LANES[element]}u)${element === 'vec4f' ? ' + vec4i(0, 1, 2, 3)' : ''};
    let onehot = select(${element}(0.0), ${element}(1.0), column == ${INDEX_TYPE[element]}(cls));
    dlogits[base + c] = select(${element}(0.0), g * (exp(logits[base + c] - row_lse) - onehot), cls >= 0);
  }
}`);

/** The largest row count whose [rows, vocab] float32 logits fit one storage binding. */
export function maxCrossEntropyRows(gpu: Gpu, vocab: number): number {
  return Math.floor(gpu.maxBindingBytes / (vocab * 4));
}

function checkBinding(gpu: Gpu, rows: number, vocab: number): void {
  const bytes = rows * vocab * 4;
  if (bytes > gpu.maxBindingBytes) {
    throw new Error(
      `softmaxCrossEntropy: logits [${rows}, ${vocab}] take ${bytes} bytes, more than the ${gpu.maxBindingBytes}-byte storage binding limit; ` +
        `split them into chunks of at most ${maxCrossEntropyRows(gpu, vocab)} rows`,
    );
  }
}

/**
 * loss[0] = sum over rows with target >= 0 of (lse - logit[target]), times invCount;
 * `lse` [rows] and `losses` [rows] are written for the backward (losses is scratch).
 */
export function softmaxCrossEntropy(
  gpu: Gpu, logits: PooledBuffer, targets: PooledBuffer, lse: PooledBuffer, losses: PooledBuffer, loss: PooledBuffer,
  rows: number, vocab: number, invCount: number,
): void {
  checkBinding(gpu, rows, vocab);
  const { element, width } = rowLayout(vocab);
  gpu.dispatch(gpu.kernel(FORWARD[element]), { logits, targets, lse, losses, params: { rows, vocab: width } }, rowGrid(rows));
  sumAll(gpu, losses, loss, rows, invCount);
}

/** dlogits = dloss[0] * invCount * (softmax(logits) - onehot(target)), zero on ignored rows. */
export function softmaxCrossEntropyBackward(
  gpu: Gpu, logits: PooledBuffer, targets: PooledBuffer, lse: PooledBuffer, dloss: PooledBuffer, dlogits: PooledBuffer,
  rows: number, vocab: number, invCount: number,
): void {
  checkBinding(gpu, rows, vocab);
  const { element, width } = rowLayout(vocab);
  gpu.dispatch(gpu.kernel(BACKWARD[element]), { logits, targets, lse, dloss, dlogits, params: { rows, vocab: width, inv_count: invCount } }, rowGrid(rows));
}
