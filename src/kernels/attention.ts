import type { Gpu } from '../gpu/device.js';
import type { PooledBuffer } from '../gpu/pool.js';
import { type ElementType, FLAT_INDEX, fixedSubgroupSize, grid1d, stagedRowLoad, stagedRowStore } from './common.js';
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
 *   rows of one (batch, head), R per lane (R = 2). For each key (query, in the dk/dv pass) the S lanes load
 *   the head-sized K and V rows once between them, lane l taking chunks l, l + S, ... (a chunk is
 *   one element, or four as a vec4f when 4 divides the head size), and share them with
 *   subgroupBroadcast, so a loaded element feeds S * R rows instead of one. The mask and
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
  return forcedVariant ?? chooseAttentionVariant(fixedSubgroupSize(gpu));
}

/** 'subgroup' when the adapter has subgroups of one fixed size that divides the 64-invocation workgroup, else 'rows'. */
export function chooseAttentionVariant(subgroupSize: number): AttentionVariant {
  return subgroupSize > 0 && 64 % subgroupSize === 0 ? 'subgroup' : 'rows';
}

/**
 * Query (or key) rows per lane in the subgroup version. Measured forward / backward at 16 x 128
 * tokens, 12 heads of 64: 1 row 10.8 / 12.4 GFLOP/s, 2 rows 16.1 / 15.2, 4 rows 25.3 / 18.8, 8 rows 22.3 / 16.7.
 * Two, not four: lavapipe's LLVM compile grows much faster than the rows (cold, head 32, on a loaded
 * 2-core machine: forward 4.5 s at 2 rows against 16 s at 4, backward query 8.5 s against 35 s, key
 * 8.6 s against 24 s), paid by every fresh shader cache, while attention is under 1 % of a seed step's
 * FLOPs at 32 tokens and a few percent at 128. With 16 lanes (lavapipe at 512 bits) one row per lane
 * keeps the 16 rows a subgroup: the demo's three attention kernels compile cold in 8.5 s instead of
 * 32 s at two rows, and a seed step's attention takes 79 ms against 73 ms at 8 lanes and two rows.
 */
const ROWS_PER_LANE = 2;

function rowsPerLane(s: number): number {
  return s >= 16 ? 1 : ROWS_PER_LANE;
}

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
 * How the subgroup version reads head rows of q, k, v, out and their gradients: one element per
 * load, or four adjacent ones as a vec4f when the head size is a multiple of 4 (on lavapipe a vec4
 * load costs about as much as 1.5-2 scalar ones). A row is `chunks` elements of `type`.
 */
interface SubgroupLayout {
  /** Lanes per subgroup. */
  s: number;
  /** Rows per lane. */
  r: number;
  /** Head size. */
  d: number;
  /** Elements per chunk. */
  w: 1 | 4;
  type: ElementType;
  chunks: number;
}

function subgroupLayout(d: number, s: number, r: number): SubgroupLayout {
  const w = d % 4 === 0 ? 4 : 1;
  return { s, r, d, w, type: w === 4 ? 'vec4f' : 'f32', chunks: d / w };
}

/** WGSL: component i of `value`, an expression of the layout's element type. */
function component(l: SubgroupLayout, value: string, i: number): string {
  return l.w === 1 ? value : `${value}.${'xyzw'[i]}`;
}

/** WGSL: `f(i)` for each component i of a chunk, in element order. */
function perComponent(l: SubgroupLayout, f: (i: number) => string): string {
  return range(l.w).map(f).join(' ');
}

/**
 * WGSL: `body(c)` for each chunk c of the head, with `name` (for each entry name: row of `loaded`)
 * bound to chunk c of the row that stridedLoad loaded into row0.., broadcast to every lane.
 */
function perChunk(l: SubgroupLayout, loaded: Record<string, string>, body: (c: number) => string): string {
  return range(l.chunks).map((c) => {
    const lets = Object.entries(loaded).map(([name, row]) => `let ${name} = subgroupBroadcast(${row}${Math.floor(c / l.s)}, ${c % l.s}u);`);
    return `    { ${lets.join(' ')} ${body(c)} }`;
  }).join('\n');
}

/** WGSL: lane-strided loads of the chunks of one head-sized row of `buffer` at `base` into name0..name{P-1} (zeros past the head). */
function stridedLoad(l: SubgroupLayout, name: string, buffer: string, base: string): string {
  const { s, chunks, type } = l;
  return range(Math.ceil(chunks / s)).map((p) => {
    const c = `lane + ${p * s}u`;
    return p * s + s <= chunks
      ? `    let ${name}${p} = ${buffer}[${base} + ${c}];`
      : `    let ${name}${p} = select(${type}(0.0), ${buffer}[${base} + min(${c}, CHUNKS - 1u)], ${c} < CHUNKS);`;
  }).join('\n');
}

/** WGSL: `body(c)` for every chunk index c (a u32 literal). */
function eachChunk(l: SubgroupLayout, body: (c: string) => string): string {
  return range(l.chunks).map((c) => body(`${c}u`)).join(' ');
}

/** WGSL: into[c] = buffer[base + c] (times `factor`, if given) for every chunk of a row, in a staging loop (see stagedRowLoad). */
function loadRow(l: SubgroupLayout, into: string, buffer: string, base: string, factor = ''): string {
  return stagedRowLoad(l.type, l.chunks, 'row_chunks', (c) => `${buffer}[${base} + ${c}]`, (i, value) => `${into}[${i}u] = ${value}${factor};`);
}

/** WGSL: buffer[base + c] = value(c) for every chunk of a row, in a staging loop (see stagedRowStore). */
function storeRow(l: SubgroupLayout, buffer: string, base: string, value: (c: string) => string): string {
  return stagedRowStore(l.type, l.chunks, 'row_chunks', (c) => `${buffer}[${base} + ${c}]`, (i) => value(`${i}u`));
}

type Binding = [access: 'read' | 'read_write', name: string, type: string];

/** q, k, v and ranks, the first bindings of every subgroup-version kernel; type `row`: an array of the layout's chunks. */
const INPUTS: Binding[] = [['read', 'q', 'row'], ['read', 'k', 'row'], ['read', 'v', 'row'], ['read', 'ranks', 'array<i32>']];

/** A subgroup-version kernel: the storage `bindings` in order, then the uniforms; `body` runs after the prologue. */
function subgroupKernel(l: SubgroupLayout, bindings: Binding[], body: string): string {
  const declarations = [
    ...bindings.map(([access, name, type]) => `var<storage, ${access}> ${name}: ${type === 'row' ? `array<${l.type}>` : type};`),
    'var<uniform> params: Params;',
  ];
  return /* wgsl */ `enable subgroups;
diagnostic(off, subgroup_uniformity);
${header(l.d)}
const CHUNKS: u32 = ${l.chunks}u;

// acc plus the components of x one at a time, in element order (the sums of the scalar form).
fn add_components(acc: f32, x: ${l.type}) -> f32 {
  return acc + ${range(l.w).map((i) => component(l, 'x', i)).join(' + ')};
}
${declarations.map((declaration, binding) => `@group(0) @binding(${binding}) ${declaration}`).join('\n')}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
  ${subgroupProlog(l)}
${body}
}`;
}

/**
 * Subgroup-version prologue: which (batch, head) and rows this subgroup owns. Lane `lane` owns rows
 * row_base + t * S for t < R; rows past seq are computed on clamped data and not stored. Offsets
 * into the row buffers (base{t}, stride, head) count chunks.
 */
function subgroupProlog(l: SubgroupLayout): string {
  const { s, r } = l;
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
  let stride = params.hidden / ${l.w}u;
  let head = h * CHUNKS;
  // CHUNKS, from the uniforms: a loop bound the compiler cannot unroll (see stagedRowLoad).
  let row_chunks = params.hidden / params.heads / ${l.w}u;
${range(r).map((t) => `  let row${t} = row_base + ${t * s}u; let rowc${t} = min(row${t}, params.seq - 1u); let base${t} = (b * params.seq + rowc${t}) * stride + head;`).join('\n')}`;
}

function forwardSubgroupWgsl(l: SubgroupLayout): string {
  const rows = range(l.r);
  return subgroupKernel(l, [...INPUTS, ['read_write', 'out', 'row'], ['read_write', 'lse', 'array<f32>']], /* wgsl */ `
${rows.map((t) => `  let query_rank${t} = ranks[b * params.seq + rowc${t}];
  var qs${t}: array<${l.type}, CHUNKS>;
  var acc${t}: array<${l.type}, CHUNKS>;
  ${loadRow(l, `qs${t}`, 'q', `base${t}`, ' * params.scale')}
  var m${t} = -3.0e38;
  var l${t} = 0.0;`).join('\n')}
  for (var j = 0u; j < params.seq; j++) {
    let key_rank = ranks[bt + b * params.seq + j];
    let kv_base = (b * params.seq + j) * stride + head;
${stridedLoad(l, 'kl', 'k', 'kv_base')}
${stridedLoad(l, 'vl', 'v', 'kv_base')}
${rows.map((t) => `    var s${t} = 0.0;`).join('\n')}
${perChunk(l, { kc: 'kl' }, (c) => perComponent(l, (i) => rows.map((t) => `s${t} = fma(${component(l, `qs${t}[${c}]`, i)}, ${component(l, 'kc', i)}, s${t});`).join(' ')))}
${rows.map((t) => `    let visible${t} = key_rank <= query_rank${t};
    if (visible${t} && s${t} > m${t}) {
      let shrink = exp(m${t} - s${t});
      l${t} *= shrink;
      for (var c = 0u; c < CHUNKS; c++) { acc${t}[c] *= shrink; }
      m${t} = s${t};
    }
    let p${t} = select(0.0, exp(s${t} - m${t}), visible${t});
    l${t} += p${t};
    let w${t} = ${l.type}(p${t} * dropout_factor((bh * params.seq + row${t}) * params.seq + j));`).join('\n')}
${perChunk(l, { vc: 'vl' }, (c) => rows.map((t) => `acc${t}[${c}] = fma(w${t}, vc, acc${t}[${c}]);`).join(' '))}
  }
${rows.map((t) => `  if (row${t} < params.seq) {
    let inv = select(0.0, 1.0 / l${t}, l${t} > 0.0);
    ${storeRow(l, 'out', `base${t}`, (c) => `acc${t}[${c}] * inv`)}
    lse[bh * params.seq + row${t}] = select(0.0, m${t} + log(l${t}), l${t} > 0.0);
  }`).join('\n')}`);
}

function backwardQuerySubgroupWgsl(l: SubgroupLayout): string {
  const rows = range(l.r);
  return subgroupKernel(l, [...INPUTS, ['read', 'out', 'row'], ['read', 'lse', 'array<f32>'], ['read', 'dout', 'row'], ['read_write', 'delta', 'array<f32>'], ['read_write', 'dq', 'row']], /* wgsl */ `
${rows.map((t) => `  var qs${t}: array<${l.type}, CHUNKS>;
  var dos${t}: array<${l.type}, CHUNKS>;
  var acc${t}: array<${l.type}, CHUNKS>;
  var d${t} = 0.0;
  var outs${t}: array<${l.type}, CHUNKS>;
  ${loadRow(l, `qs${t}`, 'q', `base${t}`, ' * params.scale')}
  ${loadRow(l, `dos${t}`, 'dout', `base${t}`)}
  ${loadRow(l, `outs${t}`, 'out', `base${t}`)}
  ${eachChunk(l, (c) => `d${t} = add_components(d${t}, dos${t}[${c}] * outs${t}[${c}]);`)}
  if (row${t} < params.seq) { delta[bh * params.seq + row${t}] = d${t}; }
  let row_lse${t} = lse[bh * params.seq + rowc${t}];
  let query_rank${t} = ranks[b * params.seq + rowc${t}];`).join('\n')}
  for (var j = 0u; j < params.seq; j++) {
    let key_rank = ranks[bt + b * params.seq + j];
    let kv_base = (b * params.seq + j) * stride + head;
${stridedLoad(l, 'kl', 'k', 'kv_base')}
${stridedLoad(l, 'vl', 'v', 'kv_base')}
${rows.map((t) => `    var s${t} = 0.0;\n    var dp${t} = 0.0;`).join('\n')}
${perChunk(l, { kc: 'kl', vc: 'vl' }, (c) => perComponent(l, (i) => rows.map((t) => `s${t} = fma(${component(l, `qs${t}[${c}]`, i)}, ${component(l, 'kc', i)}, s${t}); dp${t} = fma(${component(l, `dos${t}[${c}]`, i)}, ${component(l, 'vc', i)}, dp${t});`).join(' ')))}
${rows.map((t) => `    let p${t} = select(0.0, exp(s${t} - row_lse${t}), key_rank <= query_rank${t});
    let ds${t} = ${l.type}(p${t} * (dp${t} * dropout_factor((bh * params.seq + row${t}) * params.seq + j) - d${t}));`).join('\n')}
${perChunk(l, { kc: 'kl' }, (c) => rows.map((t) => `acc${t}[${c}] = fma(ds${t}, kc, acc${t}[${c}]);`).join(' '))}
  }
${rows.map((t) => `  if (row${t} < params.seq) {
    ${storeRow(l, 'dq', `base${t}`, (c) => `acc${t}[${c}] * params.scale`)}
  }`).join('\n')}`);
}

// dk and dv: lanes own key rows and walk the queries that may see them.
function backwardKeySubgroupWgsl(l: SubgroupLayout): string {
  const rows = range(l.r);
  return subgroupKernel(l, [...INPUTS, ['read', 'lse', 'array<f32>'], ['read', 'dout', 'row'], ['read', 'delta', 'array<f32>'], ['read_write', 'dk', 'row'], ['read_write', 'dv', 'row']], /* wgsl */ `
${rows.map((t) => `  var ks${t}: array<${l.type}, CHUNKS>;
  var vs${t}: array<${l.type}, CHUNKS>;
  var dks${t}: array<${l.type}, CHUNKS>;
  var dvs${t}: array<${l.type}, CHUNKS>;
  ${loadRow(l, `ks${t}`, 'k', `base${t}`, ' * params.scale')}
  ${loadRow(l, `vs${t}`, 'v', `base${t}`)}
  let key_rank${t} = ranks[bt + b * params.seq + rowc${t}];`).join('\n')}
  for (var i = 0u; i < params.seq; i++) {
    let query_rank = ranks[b * params.seq + i];
    let q_base = (b * params.seq + i) * stride + head;
    let qr = bh * params.seq + i;
    let row_lse = lse[qr];
    let row_delta = delta[qr];
${stridedLoad(l, 'ql', 'q', 'q_base')}
${stridedLoad(l, 'gl', 'dout', 'q_base')}
${rows.map((t) => `    var s${t} = 0.0;\n    var dp${t} = 0.0;`).join('\n')}
${perChunk(l, { qc: 'ql', gc: 'gl' }, (c) => perComponent(l, (i) => rows.map((t) => `s${t} = fma(${component(l, 'qc', i)}, ${component(l, `ks${t}[${c}]`, i)}, s${t}); dp${t} = fma(${component(l, 'gc', i)}, ${component(l, `vs${t}[${c}]`, i)}, dp${t});`).join(' ')))}
${rows.map((t) => `    let p${t} = select(0.0, exp(s${t} - row_lse), key_rank${t} <= query_rank);
    let factor${t} = dropout_factor(qr * params.seq + row${t});
    let ds${t} = ${l.type}(p${t} * (dp${t} * factor${t} - row_delta));
    let pv${t} = ${l.type}(p${t} * factor${t});`).join('\n')}
${perChunk(l, { qc: 'ql', gc: 'gl' }, (c) => rows.map((t) => `dvs${t}[${c}] = fma(pv${t}, gc, dvs${t}[${c}]); dks${t}[${c}] = fma(ds${t}, qc, dks${t}[${c}]);`).join(' '))}
  }
${rows.map((t) => `  if (row${t} < params.seq) {
    ${storeRow(l, 'dk', `base${t}`, (c) => `dks${t}[${c}] * params.scale`)}
    ${storeRow(l, 'dv', `base${t}`, (c) => `dvs${t}[${c}]`)}
  }`).join('\n')}`);
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
    // One rows-per-lane count for every length: each count is another set of shader compiles.
    const r = rowsPerLane(s);
    const key = `${headDim}:${s}:${r}`;
    const layout = subgroupLayout(headDim, s, r);
    return {
      grid: grid1d(batch * heads * Math.ceil(seq / (r * s)) * s),
      forward: cachedSource(`f${key}`, () => forwardSubgroupWgsl(layout)),
      query: cachedSource(`q${key}`, () => backwardQuerySubgroupWgsl(layout)),
      key: cachedSource(`k${key}`, () => backwardKeySubgroupWgsl(layout)),
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
