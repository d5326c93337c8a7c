import type { Gpu } from '../gpu/device.js';
import type { PooledBuffer } from '../gpu/pool.js';
import { FLAT_INDEX, grid1d } from './common.js';
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
 * One invocation per (batch, head, row): lanes of a workgroup walk the same keys (a broadcast
 * load on real GPUs), and each lane's head-sized accumulators stay private.
 */

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
  const kernel = gpu.kernel({ name: 'attention', wgsl: forwardWgsl(dims.headDim) });
  gpu.dispatch(kernel, { ...t, params }, grid1d(dims.batch * dims.heads * dims.seq));
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
  const grid = grid1d(dims.batch * dims.heads * dims.seq);
  const { q, k, v, ranks, out, lse, dout, delta, dq, dk, dv } = t;
  gpu.dispatch(gpu.kernel({ name: 'attentionBackwardQuery', wgsl: backwardQueryWgsl(dims.headDim) }), { q, k, v, ranks, out, lse, dout, delta, dq, params }, grid);
  gpu.dispatch(gpu.kernel({ name: 'attentionBackwardKey', wgsl: backwardKeyWgsl(dims.headDim) }), { q, k, v, ranks, lse, dout, delta, dk, dv, params }, grid);
}
