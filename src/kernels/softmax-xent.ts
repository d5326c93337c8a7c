import type { Gpu } from '../gpu/device.js';
import type { PooledBuffer } from '../gpu/pool.js';
import { FLAT_INDEX, grid1d } from './common.js';
import { sumAll } from './reduce.js';

/**
 * Softmax cross-entropy over a vocabulary, fused so the probabilities are never stored: the
 * forward keeps one logsumexp per row, the backward writes (softmax - onehot) * g / count
 * straight into dlogits. Targets are i32, -1 for an ignored row.
 */

const ROWS_PER_DIMENSION = 65535;

/** Workgroups for one workgroup per row. */
function rowGrid(rows: number): [number, number] {
  if (rows <= ROWS_PER_DIMENSION) return [rows, 1];
  const y = Math.ceil(rows / ROWS_PER_DIMENSION);
  return [Math.ceil(rows / y), y];
}

// One workgroup per row: each lane keeps an online (max, sum of exp) over a strided slice of
// the row; after one barrier every lane merges the 64 partials (same cost as one lane doing it,
// and no tree of barriers).
const FORWARD = /* wgsl */ `
struct Params { rows: u32, vocab: u32 }
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> targets: array<i32>;
@group(0) @binding(2) var<storage, read_write> lse: array<f32>;
@group(0) @binding(3) var<storage, read_write> losses: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

var<workgroup> part_max: array<f32, 64>;
var<workgroup> part_sum: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) { return; }
  let base = row * params.vocab;
  var m = -3.0e38;
  var s = 0.0;
  for (var c = lid; c < params.vocab; c += 64u) {
    let x = logits[base + c];
    if (x > m) {
      s *= exp(m - x);
      m = x;
    }
    s += exp(x - m);
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
  let cls = targets[row];
  losses[row] = select(0.0, row_lse - logits[base + u32(max(cls, 0))], cls >= 0);
}`;

const BACKWARD = /* wgsl */ `
struct Params { rows: u32, vocab: u32, inv_count: f32 }
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> targets: array<i32>;
@group(0) @binding(2) var<storage, read> lse: array<f32>;
@group(0) @binding(3) var<storage, read> dloss: array<f32>;
@group(0) @binding(4) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = ${FLAT_INDEX};
  if (i >= params.rows * params.vocab) { return; }
  let row = i / params.vocab;
  let cls = targets[row];
  let onehot = select(0.0, 1.0, i32(i - row * params.vocab) == cls);
  let g = dloss[0] * params.inv_count;
  dlogits[i] = select(0.0, g * (exp(logits[i] - lse[row]) - onehot), cls >= 0);
}`;

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
  gpu.dispatch(gpu.kernel({ name: 'softmaxCrossEntropy', wgsl: FORWARD }), { logits, targets, lse, losses, params: { rows, vocab } }, rowGrid(rows));
  sumAll(gpu, losses, loss, rows, invCount);
}

/** dlogits = dloss[0] * invCount * (softmax(logits) - onehot(target)), zero on ignored rows. */
export function softmaxCrossEntropyBackward(
  gpu: Gpu, logits: PooledBuffer, targets: PooledBuffer, lse: PooledBuffer, dloss: PooledBuffer, dlogits: PooledBuffer,
  rows: number, vocab: number, invCount: number,
): void {
  checkBinding(gpu, rows, vocab);
  gpu.dispatch(
    gpu.kernel({ name: 'softmaxCrossEntropyBackward', wgsl: BACKWARD }),
    { logits, targets, lse, dloss, dlogits, params: { rows, vocab, inv_count: invCount } },
    grid1d(rows * vocab),
  );
}
