import type { Gpu } from '../gpu/device.js';
import type { PooledBuffer } from '../gpu/pool.js';
import { FLAT_INDEX, fixedSubgroupSize, grid1d } from './common.js';
import { dropoutParams, WGSL_DROPOUT } from './dropout.js';

/**
 * Fused multi-head attention with a rank mask, in the FlashAttention manner: the forward keeps
 * only a logsumexp per query row (never the [batch, heads, T, T] probabilities, which at T = 512
 * would pass the 128 MiB binding limit) and the backward recomputes the probabilities.
 *
 * q, k, v, out: [batch, seq, hidden], head h on columns h*d..h*d+d-1. `ranks` (i32, 2 * batch * seq):
 * first the query ranks, then the key ranks; query i sees key j iff keyRank[j] <= queryRank[i]
 * (UniLM: cumsum of segment ids, padding keys get i32 max). A query that sees no key outputs
 * zeros. Optional dropout on the probabilities uses the generator of dropout.ts with flat index
 * ((b * heads + h) * seq + i) * seq + j.
 *
 * Two versions:
 * - 'rows': one invocation per (batch, head, row); lanes of a workgroup walk the same keys (a
 *   broadcast load on real GPUs) and each lane's head-sized accumulators stay private. On lavapipe
 *   every lane loads every key and value element itself (2 loads per FMA): ~3.9 GFLOP/s forward at
 *   16 x 128 tokens, hidden 768, 12 heads.
 * - 'subgroup' (default where the subgroups feature has one fixed size S): a subgroup owns R * S
 *   rows of one (batch, head), R per lane (R up to 4, fewer for short sequences). For each key (query, in the dk/dv pass) the S lanes load
 *   the head-sized K and V rows once between them, lane l taking elements l, l + S, ..., and share
 *   them with subgroupBroadcast, so a loaded element feeds S * R rows instead of one. The mask and
 *   the online-softmax rescale become selects and a per-lane branch, outside the broadcasts.
 * setAttentionVariant (tests) overrides the choice.
 */

export type AttentionVariant = 'rows' | 'subgroup';
let forcedVariant: AttentionVariant | null = null;

/** Forces one kernel version (null: the per-adapter choice). For tests and benchmarks. */
export function setAttentionVariant(variant: AttentionVariant | null): void {
  forcedVariant = variant;
}

/** The attention kernel version used on this GPU now. */
export function attentionVariant(gpu: Gpu): AttentionVariant {
  if (forcedVariant === 'subgroup' && fixedSubgroupSize(gpu) === 0) throw new Error('attention variant "subgroup" needs the subgroups feature with one fixed size');
  return forcedVariant ?? (fixedSubgroupSize(gpu) ? 'subgroup' : 'rows');
}

/**
 * Most query (or key) rows per lane in the subgroup version. Measured forward / backward at 16 x 128
 * tokens, 12 heads of 64: 1 row 10.8 / 12.4 GFLOP/s, 2 rows 16.1 / 15.2, 4 rows 25.3 / 18.8, 8 rows 22.3 / 16.7.
 */
const MAX_ROWS_PER_LANE = 4;

export interface AttentionDims {
  batch: number;
  seq: number;
  heads: number;
  headDim: number;
}

export interface AttentionDropout {
  rate: number;
  seed: number;
}

export const MAX_HEAD_DIM = 256;

function header(headDim: number): string {
  return /* wgsl */ `
${WGSL_DROPOUT}
const HEAD_DIM: u32 = ${headDim}u;
struct Params { batch: u32, seq: u32, heads: u32, hidden: u32, scale: f32, use_dropout: u32, seed: u32, threshold: u32, keep_scale: f32 }

// 0 for a dropped probability, 1 / (1 - rate) for a kept one, 1 without dropout.
fn dropout_factor(index: u32) -> f32 {
  if (params.use_dropout == 0u) { return 1.0; }
  return select(0.0, params.keep_scale, dropout_bits(params.seed, index) >= params.threshold);
}
`;
}

/** Shared prologue: which (batch, head, row) this invocation is and where its vectors start. */
const ROW = /* wgsl */ `
  let r = ${FLAT_INDEX};
  if (r >= params.batch * params.heads * params.seq) { return; }
  let bh = r / params.seq;
  let row = r - bh * params.seq;
  let b = bh / params.heads;
  let h = bh - b * params.heads;
  let bt = params.batch * params.seq;
  let head = h * HEAD_DIM;
`;

function forwardWgsl(headDim: number): string {
  return /* wgsl */ `
${header(headDim)}
@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read> ranks: array<i32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;
@group(0) @binding(6) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  ${ROW}
  let q_base = (b * params.seq + row) * params.hidden + head;
  var qs: array<f32, HEAD_DIM>;
  for (var e = 0u; e < HEAD_DIM; e++) { qs[e] = q[q_base + e] * params.scale; }
  let query_rank = ranks[b * params.seq + row];
  var m = -3.0e38;
  var l = 0.0;
  var acc: array<f32, HEAD_DIM>;
  for (var j = 0u; j < params.seq; j++) {
    if (ranks[bt + b * params.seq + j] > query_rank) { continue; }
    let kv_base = (b * params.seq + j) * params.hidden + head;
    var s = 0.0;
    for (var e = 0u; e < HEAD_DIM; e++) { s += qs[e] * k[kv_base + e]; }
    if (s > m) {
      let shrink = exp(m - s);
      l *= shrink;
      for (var e = 0u; e < HEAD_DIM; e++) { acc[e] *= shrink; }
      m = s;
    }
    let p = exp(s - m);
    l += p;
    let weight = p * dropout_factor(r * params.seq + j);
    if (weight != 0.0) {
      for (var e = 0u; e < HEAD_DIM; e++) { acc[e] += weight * v[kv_base + e]; }
    }
  }
  let inv = select(0.0, 1.0 / l, l > 0.0);
  for (var e = 0u; e < HEAD_DIM; e++) { out[q_base + e] = acc[e] * inv; }
  lse[r] = select(0.0, m + log(l), l > 0.0);
}`;
}

// dq for one query row, and delta = dO . O (the row sum of dP * P, dropout included), which the
// dk/dv pass needs for every query.
function backwardQueryWgsl(headDim: number): string {
  return /* wgsl */ `
${header(headDim)}
@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read> ranks: array<i32>;
@group(0) @binding(4) var<storage, read> out: array<f32>;
@group(0) @binding(5) var<storage, read> lse: array<f32>;
@group(0) @binding(6) var<storage, read> dout: array<f32>;
@group(0) @binding(7) var<storage, read_write> delta: array<f32>;
@group(0) @binding(8) var<storage, read_write> dq: array<f32>;
@group(0) @binding(9) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  ${ROW}
  let q_base = (b * params.seq + row) * params.hidden + head;
  var qs: array<f32, HEAD_DIM>;
  var dos: array<f32, HEAD_DIM>;
  var d = 0.0;
  for (var e = 0u; e < HEAD_DIM; e++) {
    qs[e] = q[q_base + e] * params.scale;
    dos[e] = dout[q_base + e];
    d += dos[e] * out[q_base + e];
  }
  delta[r] = d;
  let row_lse = lse[r];
  let query_rank = ranks[b * params.seq + row];
  var acc: array<f32, HEAD_DIM>;
  for (var j = 0u; j < params.seq; j++) {
    if (ranks[bt + b * params.seq + j] > query_rank) { continue; }
    let kv_base = (b * params.seq + j) * params.hidden + head;
    var s = 0.0;
    var dp = 0.0;
    for (var e = 0u; e < HEAD_DIM; e++) {
      s += qs[e] * k[kv_base + e];
      dp += dos[e] * v[kv_base + e];
    }
    let p = exp(s - row_lse);
    let ds = p * (dp * dropout_factor(r * params.seq + j) - d);
    for (var e = 0u; e < HEAD_DIM; e++) { acc[e] += ds * k[kv_base + e]; }
  }
  for (var e = 0u; e < HEAD_DIM; e++) { dq[q_base + e] = acc[e] * params.scale; }
}`;
}

// dk and dv for one key row, walking the queries that see it.
function backwardKeyWgsl(headDim: number): string {
  return /* wgsl */ `
${header(headDim)}
@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read> ranks: array<i32>;
@group(0) @binding(4) var<storage, read> lse: array<f32>;
@group(0) @binding(5) var<storage, read> dout: array<f32>;
@group(0) @binding(6) var<storage, read> delta: array<f32>;
@group(0) @binding(7) var<storage, read_write> dk: array<f32>;
@group(0) @binding(8) var<storage, read_write> dv: array<f32>;
@group(0) @binding(9) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  ${ROW}
  let kv_base = (b * params.seq + row) * params.hidden + head;
  var ks: array<f32, HEAD_DIM>;
  var vs: array<f32, HEAD_DIM>;
  for (var e = 0u; e < HEAD_DIM; e++) {
    ks[e] = k[kv_base + e] * params.scale;
    vs[e] = v[kv_base + e];
  }
  let key_rank = ranks[bt + b * params.seq + row];
  var dks: array<f32, HEAD_DIM>;
  var dvs: array<f32, HEAD_DIM>;
  for (var i = 0u; i < params.seq; i++) {
    if (key_rank > ranks[b * params.seq + i]) { continue; }
    let q_base = (b * params.seq + i) * params.hidden + head;
    let qr = bh * params.seq + i;
    var s = 0.0;
    var dp = 0.0;
    for (var e = 0u; e < HEAD_DIM; e++) {
      s += q[q_base + e] * ks[e];
      dp += dout[q_base + e] * vs[e];
    }
    let p = exp(s - lse[qr]);
    let factor = dropout_factor(qr * params.seq + row);
    let ds = p * (dp * factor - delta[qr]);
    let pv = p * factor;
    for (var e = 0u; e < HEAD_DIM; e++) {
      dvs[e] += pv * dout[q_base + e];
      dks[e] += ds * q[q_base + e];
    }
  }
  for (var e = 0u; e < HEAD_DIM; e++) {
    dk[kv_base + e] = dks[e] * params.scale;
    dv[kv_base + e] = dvs[e];
  }
}`;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/**
 * Subgroup-version prologue: which (batch, head) and rows this subgroup owns. Lane `lane` owns rows
 * row_base + t * S for t < R; rows past seq are computed on clamped data and not stored.
 */
function subgroupProlog(s: number, r: number): string {
  return /* wgsl */ `
  let group = (${FLAT_INDEX}) / ${s}u;
  let groups_per_head = (params.seq + ${r * s - 1}u) / ${r * s}u;
  // Whole subgroups past the end leave together (the broadcasts need every lane of a subgroup).
  if (group >= params.batch * params.heads * groups_per_head) { return; }
  let bh = group / groups_per_head;
  let row_base = (group - bh * groups_per_head) * ${r * s}u + lane;
  let b = bh / params.heads;
  let h = bh - b * params.heads;
  let bt = params.batch * params.seq;
  let head = h * HEAD_DIM;
${range(r).map((t) => `  let row${t} = row_base + ${t * s}u; let rowc${t} = min(row${t}, params.seq - 1u); let base${t} = (b * params.seq + rowc${t}) * params.hidden + head;`).join('\n')}`;
}

/** WGSL: lane-strided loads of one head-sized row of `buffer` at `base` into name0..name{P-1} (zeros past the head). */
function stridedLoad(name: string, buffer: string, base: string, s: number, d: number): string {
  return range(Math.ceil(d / s)).map((p) => {
    const e = `lane + ${p * s}u`;
    return p * s + s <= d
      ? `    let ${name}${p} = ${buffer}[${base} + ${e}];`
      : `    let ${name}${p} = select(0.0, ${buffer}[${base} + min(${e}, HEAD_DIM - 1u)], ${e} < HEAD_DIM);`;
  }).join('\n');
}

/** WGSL: element e of a row loaded by stridedLoad, broadcast to every lane. */
function shared(name: string, e: number, s: number): string {
  return `subgroupBroadcast(${name}${Math.floor(e / s)}, ${e % s}u)`;
}

const SUBGROUP_HEADER = 'enable subgroups;\ndiagnostic(off, subgroup_uniformity);';

function forwardSubgroupWgsl(d: number, s: number, r: number): string {
  const rows = range(r);
  const dims = range(d);
  return /* wgsl */ `${SUBGROUP_HEADER}
${header(d)}
@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read> ranks: array<i32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;
@group(0) @binding(6) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
  ${subgroupProlog(s, r)}
${rows.map((t) => `  let query_rank${t} = ranks[b * params.seq + rowc${t}];
  var qs${t}: array<f32, HEAD_DIM>;
  var acc${t}: array<f32, HEAD_DIM>;
  for (var e = 0u; e < HEAD_DIM; e++) { qs${t}[e] = q[base${t} + e] * params.scale; }
  var m${t} = -3.0e38;
  var l${t} = 0.0;`).join('\n')}
  for (var j = 0u; j < params.seq; j++) {
    let key_rank = ranks[bt + b * params.seq + j];
    let kv_base = (b * params.seq + j) * params.hidden + head;
${stridedLoad('kl', 'k', 'kv_base', s, d)}
${stridedLoad('vl', 'v', 'kv_base', s, d)}
${rows.map((t) => `    var s${t} = 0.0;`).join('\n')}
${dims.map((e) => `    { let ke = ${shared('kl', e, s)}; ${rows.map((t) => `s${t} = fma(qs${t}[${e}], ke, s${t});`).join(' ')} }`).join('\n')}
${rows.map((t) => `    let visible${t} = key_rank <= query_rank${t};
    if (visible${t} && s${t} > m${t}) {
      let shrink = exp(m${t} - s${t});
      l${t} *= shrink;
      for (var e = 0u; e < HEAD_DIM; e++) { acc${t}[e] *= shrink; }
      m${t} = s${t};
    }
    let p${t} = select(0.0, exp(s${t} - m${t}), visible${t});
    l${t} += p${t};
    let w${t} = p${t} * dropout_factor((bh * params.seq + row${t}) * params.seq + j);`).join('\n')}
${dims.map((e) => `    { let ve = ${shared('vl', e, s)}; ${rows.map((t) => `acc${t}[${e}] = fma(w${t}, ve, acc${t}[${e}]);`).join(' ')} }`).join('\n')}
  }
${rows.map((t) => `  if (row${t} < params.seq) {
    let inv = select(0.0, 1.0 / l${t}, l${t} > 0.0);
    for (var e = 0u; e < HEAD_DIM; e++) { out[base${t} + e] = acc${t}[e] * inv; }
    lse[bh * params.seq + row${t}] = select(0.0, m${t} + log(l${t}), l${t} > 0.0);
  }`).join('\n')}
}`;
}

function backwardQuerySubgroupWgsl(d: number, s: number, r: number): string {
  const rows = range(r);
  const dims = range(d);
  return /* wgsl */ `${SUBGROUP_HEADER}
${header(d)}
@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read> ranks: array<i32>;
@group(0) @binding(4) var<storage, read> out: array<f32>;
@group(0) @binding(5) var<storage, read> lse: array<f32>;
@group(0) @binding(6) var<storage, read> dout: array<f32>;
@group(0) @binding(7) var<storage, read_write> delta: array<f32>;
@group(0) @binding(8) var<storage, read_write> dq: array<f32>;
@group(0) @binding(9) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
  ${subgroupProlog(s, r)}
${rows.map((t) => `  var qs${t}: array<f32, HEAD_DIM>;
  var dos${t}: array<f32, HEAD_DIM>;
  var acc${t}: array<f32, HEAD_DIM>;
  var d${t} = 0.0;
  for (var e = 0u; e < HEAD_DIM; e++) {
    qs${t}[e] = q[base${t} + e] * params.scale;
    dos${t}[e] = dout[base${t} + e];
    d${t} += dos${t}[e] * out[base${t} + e];
  }
  if (row${t} < params.seq) { delta[bh * params.seq + row${t}] = d${t}; }
  let row_lse${t} = lse[bh * params.seq + rowc${t}];
  let query_rank${t} = ranks[b * params.seq + rowc${t}];`).join('\n')}
  for (var j = 0u; j < params.seq; j++) {
    let key_rank = ranks[bt + b * params.seq + j];
    let kv_base = (b * params.seq + j) * params.hidden + head;
${stridedLoad('kl', 'k', 'kv_base', s, d)}
${stridedLoad('vl', 'v', 'kv_base', s, d)}
${rows.map((t) => `    var s${t} = 0.0;\n    var dp${t} = 0.0;`).join('\n')}
${dims.map((e) => `    { let ke = ${shared('kl', e, s)}; let ve = ${shared('vl', e, s)}; ${rows.map((t) => `s${t} = fma(qs${t}[${e}], ke, s${t}); dp${t} = fma(dos${t}[${e}], ve, dp${t});`).join(' ')} }`).join('\n')}
${rows.map((t) => `    let p${t} = select(0.0, exp(s${t} - row_lse${t}), key_rank <= query_rank${t});
    let ds${t} = p${t} * (dp${t} * dropout_factor((bh * params.seq + row${t}) * params.seq + j) - d${t});`).join('\n')}
${dims.map((e) => `    { let ke = ${shared('kl', e, s)}; ${rows.map((t) => `acc${t}[${e}] = fma(ds${t}, ke, acc${t}[${e}]);`).join(' ')} }`).join('\n')}
  }
${rows.map((t) => `  if (row${t} < params.seq) {
    for (var e = 0u; e < HEAD_DIM; e++) { dq[base${t} + e] = acc${t}[e] * params.scale; }
  }`).join('\n')}
}`;
}

// dk and dv: lanes own key rows and walk the queries that may see them.
function backwardKeySubgroupWgsl(d: number, s: number, r: number): string {
  const rows = range(r);
  const dims = range(d);
  return /* wgsl */ `${SUBGROUP_HEADER}
${header(d)}
@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read> ranks: array<i32>;
@group(0) @binding(4) var<storage, read> lse: array<f32>;
@group(0) @binding(5) var<storage, read> dout: array<f32>;
@group(0) @binding(6) var<storage, read> delta: array<f32>;
@group(0) @binding(7) var<storage, read_write> dk: array<f32>;
@group(0) @binding(8) var<storage, read_write> dv: array<f32>;
@group(0) @binding(9) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
  ${subgroupProlog(s, r)}
${rows.map((t) => `  var ks${t}: array<f32, HEAD_DIM>;
  var vs${t}: array<f32, HEAD_DIM>;
  var dks${t}: array<f32, HEAD_DIM>;
  var dvs${t}: array<f32, HEAD_DIM>;
  for (var e = 0u; e < HEAD_DIM; e++) {
    ks${t}[e] = k[base${t} + e] * params.scale;
    vs${t}[e] = v[base${t} + e];
  }
  let key_rank${t} = ranks[bt + b * params.seq + rowc${t}];`).join('\n')}
  for (var i = 0u; i < params.seq; i++) {
    let query_rank = ranks[b * params.seq + i];
    let q_base = (b * params.seq + i) * params.hidden + head;
    let qr = bh * params.seq + i;
    let row_lse = lse[qr];
    let row_delta = delta[qr];
${stridedLoad('ql', 'q', 'q_base', s, d)}
${stridedLoad('gl', 'dout', 'q_base', s, d)}
${rows.map((t) => `    var s${t} = 0.0;\n    var dp${t} = 0.0;`).join('\n')}
${dims.map((e) => `    { let qe = ${shared('ql', e, s)}; let ge = ${shared('gl', e, s)}; ${rows.map((t) => `s${t} = fma(qe, ks${t}[${e}], s${t}); dp${t} = fma(ge, vs${t}[${e}], dp${t});`).join(' ')} }`).join('\n')}
${rows.map((t) => `    let p${t} = select(0.0, exp(s${t} - row_lse), key_rank${t} <= query_rank);
    let factor${t} = dropout_factor(qr * params.seq + row${t});
    let ds${t} = p${t} * (dp${t} * factor${t} - row_delta);
    let pv${t} = p${t} * factor${t};`).join('\n')}
${dims.map((e) => `    { let qe = ${shared('ql', e, s)}; let ge = ${shared('gl', e, s)}; ${rows.map((t) => `dvs${t}[${e}] = fma(pv${t}, ge, dvs${t}[${e}]); dks${t}[${e}] = fma(ds${t}, qe, dks${t}[${e}]);`).join(' ')} }`).join('\n')}
  }
${rows.map((t) => `  if (row${t} < params.seq) {
    for (var e = 0u; e < HEAD_DIM; e++) {
      dk[base${t} + e] = dks${t}[e] * params.scale;
      dv[base${t} + e] = dvs${t}[e];
    }
  }`).join('\n')}
}`;
}

const sources = new Map<string, string>();

function cachedSource(key: string, make: () => string): string {
  let wgsl = sources.get(key);
  if (wgsl === undefined) {
    wgsl = make();
    sources.set(key, wgsl);
  }
  return wgsl;
}

/** Kernel sources and grid for this GPU's version. */
function plan(gpu: Gpu, dims: AttentionDims) {
  const { batch, heads, seq, headDim } = dims;
  if (attentionVariant(gpu) === 'subgroup') {
    const s = fixedSubgroupSize(gpu);
    const r = Math.min(MAX_ROWS_PER_LANE, Math.max(1, Math.ceil(seq / s)));
    const key = `${headDim}:${s}:${r}`;
    return {
      grid: grid1d(batch * heads * Math.ceil(seq / (r * s)) * s),
      forward: cachedSource(`f${key}`, () => forwardSubgroupWgsl(headDim, s, r)),
      query: cachedSource(`q${key}`, () => backwardQuerySubgroupWgsl(headDim, s, r)),
      key: cachedSource(`k${key}`, () => backwardKeySubgroupWgsl(headDim, s, r)),
    };
  }
  return {
    grid: grid1d(batch * heads * seq),
    forward: cachedSource(`f${headDim}`, () => forwardWgsl(headDim)),
    query: cachedSource(`q${headDim}`, () => backwardQueryWgsl(headDim)),
    key: cachedSource(`k${headDim}`, () => backwardKeyWgsl(headDim)),
  };
}

function uniforms(dims: AttentionDims, dropout: AttentionDropout | undefined) {
  const { batch, seq, heads, headDim } = dims;
  if (!(headDim >= 1 && headDim <= MAX_HEAD_DIM)) throw new Error(`attention: head size ${headDim} is not in [1, ${MAX_HEAD_DIM}]`);
  if (batch * heads * seq * seq >= 2 ** 32) throw new Error(`attention: ${batch} x ${heads} heads x ${seq}^2 probabilities overflow the u32 dropout index`);
  const rate = dropout?.rate ?? 0;
  const d = rate > 0 && dropout ? dropoutParams(rate, dropout.seed) : { seed: 0, threshold: 0, keepScale: 1 };
  return {
    batch, seq, heads, hidden: heads * headDim, scale: 1 / Math.sqrt(headDim),
    use_dropout: rate > 0 ? 1 : 0, seed: d.seed, threshold: d.threshold, keep_scale: d.keepScale,
  };
}

/** out = softmax(mask(q k^T / sqrt(d))) v per head, with dropout on the probabilities; lse [batch, heads, seq] for the backward. */
export function attention(
  gpu: Gpu, t: { q: PooledBuffer; k: PooledBuffer; v: PooledBuffer; ranks: PooledBuffer; out: PooledBuffer; lse: PooledBuffer },
  dims: AttentionDims, dropout?: AttentionDropout,
): void {
  const params = uniforms(dims, dropout);
  const p = plan(gpu, dims);
  gpu.dispatch(gpu.kernel({ name: 'attention', wgsl: p.forward }), { ...t, params }, p.grid);
}

/** dq, dk, dv from the forward's inputs, output and lse; `delta` is scratch of batch * heads * seq. */
export function attentionBackward(
  gpu: Gpu,
  t: {
    q: PooledBuffer; k: PooledBuffer; v: PooledBuffer; ranks: PooledBuffer; out: PooledBuffer; lse: PooledBuffer; dout: PooledBuffer;
    delta: PooledBuffer; dq: PooledBuffer; dk: PooledBuffer; dv: PooledBuffer;
  },
  dims: AttentionDims, dropout?: AttentionDropout,
): void {
  const params = uniforms(dims, dropout);
  const p = plan(gpu, dims);
  const { q, k, v, ranks, out, lse, dout, delta, dq, dk, dv } = t;
  gpu.dispatch(gpu.kernel({ name: 'attentionBackwardQuery', wgsl: p.query }), { q, k, v, ranks, out, lse, dout, delta, dq, params }, p.grid);
  gpu.dispatch(gpu.kernel({ name: 'attentionBackwardKey', wgsl: p.key }), { q, k, v, ranks, lse, dout, delta, dk, dv, params }, p.grid);
}
