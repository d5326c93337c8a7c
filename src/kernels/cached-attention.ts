import type { Gpu } from '../gpu/device.js';
import type { PooledBuffer } from '../gpu/pool.js';
import { FLAT_INDEX, grid1d } from './common.js';
import { MAX_HEAD_DIM } from './attention.js';

/**
 * Attention of one new query per row against a key/value cache (UniLM decoding). Row r's query
 * sees the `srcLen` source keys of its input, rows srcStart.. of `srcK`/`srcV` (shared by every
 * row decoding that input), then the first `genLen` keys it generated itself, rows genStart.. of
 * `genK`/`genV` (its own slot of the cache, the current token's key already written). With the
 * UniLM mask that is exactly what the generated token's query sees in the full sequence, and
 * nothing is masked, so there is no mask input.
 *
 * One invocation per (row, head) with head-sized accumulators, the online softmax of attention.ts's
 * 'rows' version: a decoding step has one query per row, too few rows to share loads across lanes.
 * rowInfo (u32, 3 per row): srcStart, srcLen, genStart. q, out: [rows, hidden].
 */

export interface CachedAttentionDims {
  rows: number;
  heads: number;
  headDim: number;
  /** Generated keys each row sees (the same for every row of a step). */
  genLen: number;
}

/** WGSL: the online-softmax update of attention.ts for the key/value row at `base` of `${part}_k`/`${part}_v`. */
function visit(part: 'src' | 'gen'): string {
  return /* wgsl */ `
fn visit_${part}(base: u32) {
  var s = 0.0;
  for (var e = 0u; e < HEAD_DIM; e++) { s += qs[e] * ${part}_k[base + e]; }
  if (s > m) {
    let shrink = exp(m - s);
    l *= shrink;
    for (var e = 0u; e < HEAD_DIM; e++) { acc[e] *= shrink; }
    m = s;
  }
  let p = exp(s - m);
  l += p;
  for (var e = 0u; e < HEAD_DIM; e++) { acc[e] += p * ${part}_v[base + e]; }
}`;
}

function wgsl(headDim: number): string {
  return /* wgsl */ `
const HEAD_DIM: u32 = ${headDim}u;
struct Params { rows: u32, heads: u32, hidden: u32, gen_len: u32, scale: f32 }
@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> src_k: array<f32>;
@group(0) @binding(2) var<storage, read> src_v: array<f32>;
@group(0) @binding(3) var<storage, read> gen_k: array<f32>;
@group(0) @binding(4) var<storage, read> gen_v: array<f32>;
@group(0) @binding(5) var<storage, read> row_info: array<u32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;
@group(0) @binding(7) var<uniform> params: Params;

var<private> qs: array<f32, HEAD_DIM>;
var<private> acc: array<f32, HEAD_DIM>;
var<private> m: f32;
var<private> l: f32;

${visit('src')}
${visit('gen')}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let r = ${FLAT_INDEX};
  if (r >= params.rows * params.heads) { return; }
  let row = r / params.heads;
  let head = (r - row * params.heads) * HEAD_DIM;
  let src_start = row_info[3u * row];
  let src_len = row_info[3u * row + 1u];
  let gen_start = row_info[3u * row + 2u];
  let q_base = row * params.hidden + head;
  for (var e = 0u; e < HEAD_DIM; e++) {
    qs[e] = q[q_base + e] * params.scale;
    acc[e] = 0.0;
  }
  m = -3.0e38;
  l = 0.0;
  for (var j = 0u; j < src_len; j++) { visit_src((src_start + j) * params.hidden + head); }
  for (var j = 0u; j < params.gen_len; j++) { visit_gen((gen_start + j) * params.hidden + head); }
  let inv = select(0.0, 1.0 / l, l > 0.0);
  for (var e = 0u; e < HEAD_DIM; e++) { out[q_base + e] = acc[e] * inv; }
}`;
}

const sources = new Map<number, string>();

/** out = softmax(q k^T / sqrt(d)) v per head over each row's source keys and its own generated keys. */
export function cachedAttention(
  gpu: Gpu,
  t: { q: PooledBuffer; srcK: PooledBuffer; srcV: PooledBuffer; genK: PooledBuffer; genV: PooledBuffer; rowInfo: PooledBuffer; out: PooledBuffer },
  dims: CachedAttentionDims,
): void {
  const { rows, heads, headDim, genLen } = dims;
  if (!(headDim >= 1 && headDim <= MAX_HEAD_DIM)) throw new Error(`cachedAttention: head size ${headDim} is not in [1, ${MAX_HEAD_DIM}]`);
  let source = sources.get(headDim);
  if (source === undefined) {
    source = wgsl(headDim);
    sources.set(headDim, source);
  }
  gpu.dispatch(
    gpu.kernel({ name: 'cachedAttention', wgsl: source }),
    {
      q: t.q, src_k: t.srcK, src_v: t.srcV, gen_k: t.genK, gen_v: t.genV, row_info: t.rowInfo, out: t.out,
      params: { rows, heads, hidden: heads * headDim, gen_len: genLen, scale: 1 / Math.sqrt(headDim) },
    },
    grid1d(rows * heads),
  );
}

const SCATTER = /* wgsl */ `
struct Params { rows: u32, width: u32 }
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> targets: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = ${FLAT_INDEX};
  if (i >= params.rows * params.width) { return; }
  let row = i / params.width;
  dst[targets[row] * params.width + (i - row * params.width)] = src[i];
}`;

/** dst row targets[r] = src row r, for r < rows (rows of `width` f32s): appends keys and values to a cache. */
export function scatterRows(gpu: Gpu, src: PooledBuffer, targets: PooledBuffer, dst: PooledBuffer, rows: number, width: number): void {
  gpu.dispatch(gpu.kernel({ name: 'scatterRows', wgsl: SCATTER }), { src, targets, dst, params: { rows, width } }, grid1d(rows * width));
}
