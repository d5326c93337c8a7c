import type { Gpu } from '../gpu/device.js';
import type { PooledBuffer } from '../gpu/pool.js';
import { elementForms, fixedSubgroupSize, rowLayout, stagedRowLoad, stagedRowStore, WORKGROUP_SIZE, type ElementType } from './common.js';
import { MAX_HEAD_DIM } from './attention.js';

/**
 * Attention of one new query per row against a key/value cache (UniLM decoding). Row r's query
 * sees the `srcLen` source keys of its input, rows srcStart.. of `srcK`/`srcV` (shared by every
 * row decoding that input), then the first `genLen` keys it generated itself, rows genStart.. of
 * `genK`/`genV` (its own slot of the cache, the current token's key already written). With the
 * UniLM mask that is exactly what the generated token's query sees in the full sequence, and
 * nothing is masked, so there is no mask input.
 *
 * One workgroup per (group of up to G consecutive rows of one input, head), one lane per row, with
 * the online softmax of attention.ts. Query and accumulators are unrolled into variables of whole
 * vec4s (f32s when 4 does not divide the head size), never arrays indexed in a loop. Two versions:
 * - 'subgroup' (where the adapter has subgroups of one fixed size S; G = S): the lanes load each
 *   shared source key and value between them, lane l taking chunks l, l + S, ..., and hand them
 *   round with subgroupBroadcast, as attention.ts's subgroup version does. On lavapipe every
 *   storage-buffer load is a loop over the lanes (even when they all read one address), so this
 *   cuts the source part's loads S-fold.
 * - 'rows' (G = 8): every lane loads the source keys itself, at an address that is the same for
 *   the whole workgroup (a broadcast load on GPUs).
 * The generated keys are each row's own, loaded by its lane in both.
 *
 * info (u32): genStart of each row, then 4 per group: first row, row count, srcStart, srcLen.
 * q, out: [rows, hidden].
 */

export type CachedAttentionVariant = 'rows' | 'subgroup';
let forcedVariant: CachedAttentionVariant | null = null;

/** Forces one kernel version (null: the per-adapter choice). For tests and benchmarks. */
export function setCachedAttentionVariant(variant: CachedAttentionVariant | null): void {
  forcedVariant = variant;
}

/** The version used on this GPU now. */
export function cachedAttentionVariant(gpu: Gpu): CachedAttentionVariant {
  if (forcedVariant === 'subgroup' && fixedSubgroupSize(gpu) === 0) throw new Error('cachedAttention variant "subgroup" needs the subgroups feature with one fixed size');
  return forcedVariant ?? (fixedSubgroupSize(gpu) > 0 ? 'subgroup' : 'rows');
}

/** Rows per workgroup of the 'rows' version: lavapipe's SIMD width (a wider group runs idle lanes for inputs with few rows). */
const ROWS_GROUP = 8;

/** Rows one workgroup serves. */
export function cachedAttentionGroupSize(gpu: Gpu): number {
  return cachedAttentionVariant(gpu) === 'subgroup' ? fixedSubgroupSize(gpu) : ROWS_GROUP;
}

export interface CachedAttentionDims {
  rows: number;
  heads: number;
  headDim: number;
  /** Generated keys each row sees (the same for every row of a step). */
  genLen: number;
}

/** Where one decoding row's keys live (rows of the caches): its input's source rows and its own generated rows. */
export interface CachedRowInfo {
  srcStart: number;
  srcLen: number;
  genStart: number;
}

/** The info buffer's contents and its number of groups: runs of consecutive rows with the same source, cut at groupSize rows. */
export function cachedAttentionInfo(rows: readonly CachedRowInfo[], groupSize: number): { info: Uint32Array; groups: number } {
  const groups: number[] = [];
  rows.forEach((row, r) => {
    const g = groups.length - 4;
    if (g >= 0 && groups[g + 1] < groupSize && groups[g + 2] === row.srcStart && groups[g + 3] === row.srcLen) groups[g + 1]++;
    else groups.push(r, 1, row.srcStart, row.srcLen);
  });
  const info = new Uint32Array(rows.length + groups.length);
  rows.forEach((row, r) => (info[r] = row.genStart));
  info.set(groups, rows.length);
  return { info, groups: groups.length / 4 };
}

/** WGSL of one version: subgroupSize 0 for 'rows'. */
function wgsl(headDim: number, subgroupSize: number): string {
  const { element, width: chunks } = rowLayout(headDim);
  const s = subgroupSize;
  const c = Array.from({ length: chunks }, (_, i) => i);
  const product = element === 'vec4f' ? (a: string, b: string) => `dot(${a}, ${b})` : (a: string, b: string) => `${a} * ${b}`;
  // Lane-strided loads of a source row's chunks into name0.., zeros past the head.
  const stridedLoad = (name: string, buffer: string) => Array.from({ length: Math.ceil(chunks / s) }, (_, p) => {
    const chunk = `lane + ${p * s}u`;
    return p * s + s <= chunks
      ? `    let ${name}${p} = ${buffer}[kv + ${chunk}];`
      : `    let ${name}${p} = select(${element}(0.0), ${buffer}[kv + min(${chunk}, ${chunks - 1}u)], ${chunk} < ${chunks}u);`;
  }).join('\n');
  const visit = (part: 'src' | 'gen', base: string) => {
    const shared = part === 'src' && s > 0;
    const chunk = (name: string, i: number) => (shared ? `subgroupBroadcast(${name}l${Math.floor(i / s)}, ${i % s}u)` : `${name}r[${i}]`);
    // A row of each cache through staging arrays, read by constant index (see stagedRowLoad in common.ts).
    const ownLoads = `    var kr: array<${element}, ${chunks}>;
    var vr: array<${element}, ${chunks}>;
    for (var i = 0u; i < head_chunks; i++) { kr[i] = ${part}_k[kv + i]; vr[i] = ${part}_v[kv + i]; }`;
    return /* wgsl */ `
    let kv = ${base};
${shared ? `${stridedLoad('kl', 'src_k')}\n${stridedLoad('vl', 'src_v')}` : ownLoads}
    let s = ${c.map((i) => product(`q${i}`, chunk('k', i))).join(' + ')};
    let m_new = max(m, s);
    let shrink = exp(m - m_new);
    let p = exp(s - m_new);
    l = l * shrink + p;
    m = m_new;
${c.map((i) => `    a${i} = a${i} * shrink + p * ${chunk('v', i)};`).join('\n')}`;
  };
  return /* wgsl */ `${s > 0 ? 'enable subgroups;\ndiagnostic(off, subgroup_uniformity);' : ''}
struct Params { rows: u32, row_chunks: u32, gen_len: u32, scale: f32 }
@group(0) @binding(0) var<storage, read> q: array<${element}>;
@group(0) @binding(1) var<storage, read> src_k: array<${element}>;
@group(0) @binding(2) var<storage, read> src_v: array<${element}>;
@group(0) @binding(3) var<storage, read> gen_k: array<${element}>;
@group(0) @binding(4) var<storage, read> gen_v: array<${element}>;
@group(0) @binding(5) var<storage, read> info: array<u32>;
@group(0) @binding(6) var<storage, read_write> out: array<${element}>;
@group(0) @binding(7) var<uniform> params: Params;

@compute @workgroup_size(${s > 0 ? s : ROWS_GROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, ${s > 0 ? '@builtin(subgroup_invocation_id)' : '@builtin(local_invocation_index)'} lane: u32) {
  let group = params.rows + 4u * wid.x;
  let first = info[group];
  let count = info[group + 1u];
  let src_start = info[group + 2u];
  let src_len = info[group + 3u];
  let head = wid.y * ${chunks}u;
  // Lanes past the group's rows repeat its last row (every lane takes part in the broadcasts) and store nothing.
  let row = first + min(lane, count - 1u);
  let gen_start = info[row];
  let q_base = row * params.row_chunks + head;
  // The chunks of one head (${chunks}), as a loop bound the compiler cannot unroll (see stagedRowLoad in common.ts).
  let head_chunks = params.row_chunks / nwg.y;
${c.map((i) => `  var q${i}: ${element};\n  var a${i} = ${element}(0.0);`).join('\n')}
  ${stagedRowLoad(element, chunks, 'head_chunks', (i) => `q[q_base + ${i}] * params.scale`, (i, value) => `q${i} = ${value};`)}
  var m = -3.0e38;
  var l = 0.0;
  for (var j = 0u; j < src_len; j++) {${visit('src', '(src_start + j) * params.row_chunks + head')}
  }
  for (var j = 0u; j < params.gen_len; j++) {${visit('gen', '(gen_start + j) * params.row_chunks + head')}
  }
  if (lane < count) {
    let inv = select(0.0, 1.0 / l, l > 0.0);
    ${stagedRowStore(element, chunks, 'head_chunks', (i) => `out[q_base + ${i}]`, (i) => `a${i} * inv`)}
  }
}`;
}

const sources = new Map<string, string>();

/**
 * out = softmax(q k^T / sqrt(d)) v per head over each row's source keys and its own generated keys;
 * `info` and `groups` from cachedAttentionInfo with cachedAttentionGroupSize(gpu) rows a group.
 */
export function cachedAttention(
  gpu: Gpu,
  t: { q: PooledBuffer; srcK: PooledBuffer; srcV: PooledBuffer; genK: PooledBuffer; genV: PooledBuffer; info: PooledBuffer; out: PooledBuffer },
  dims: CachedAttentionDims & { groups: number },
): void {
  const { rows, heads, headDim, genLen, groups } = dims;
  if (!(headDim >= 1 && headDim <= MAX_HEAD_DIM)) throw new Error(`cachedAttention: head size ${headDim} is not in [1, ${MAX_HEAD_DIM}]`);
  const subgroupSize = cachedAttentionVariant(gpu) === 'subgroup' ? fixedSubgroupSize(gpu) : 0;
  const key = `${headDim} ${subgroupSize}`;
  let source = sources.get(key);
  if (source === undefined) {
    source = wgsl(headDim, subgroupSize);
    sources.set(key, source);
  }
  const { width: chunks } = rowLayout(headDim);
  gpu.dispatch(
    gpu.kernel({ name: subgroupSize > 0 ? 'cachedAttentionSubgroup' : 'cachedAttention', wgsl: source }),
    {
      q: t.q, src_k: t.srcK, src_v: t.srcV, gen_k: t.genK, gen_v: t.genV, info: t.info, out: t.out,
      params: { rows, row_chunks: heads * chunks, gen_len: genLen, scale: 1 / Math.sqrt(headDim) },
    },
    [groups, heads],
  );
}

/** Rows of one scatter dispatch: the most workgroups a dispatch dimension is guaranteed. */
const SCATTER_ROWS = 65535;

function scatterWgsl(element: ElementType): string {
  return /* wgsl */ `
struct Params { first: u32, width: u32 }
@group(0) @binding(0) var<storage, read> src: array<${element}>;
@group(0) @binding(1) var<storage, read> targets: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<${element}>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(${WORKGROUP_SIZE})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x >= params.width) { return; }
  let row = params.first + gid.y;
  dst[targets[row] * params.width + gid.x] = src[row * params.width + gid.x];
}`;
}

const SCATTER = elementForms('scatterRows', scatterWgsl);

/**
 * dst row targets[r] = src row r, for r < rows (rows of `width` f32s): appends keys and values to a
 * cache. One workgroup row per row (no division to find it), vec4s where 4 divides the width.
 */
export function scatterRows(gpu: Gpu, src: PooledBuffer, targets: PooledBuffer, dst: PooledBuffer, rows: number, width: number): void {
  const { element, width: elements } = rowLayout(width);
  const kernel = gpu.kernel(SCATTER[element]);
  for (let first = 0; first < rows; first += SCATTER_ROWS) {
    const count = Math.min(SCATTER_ROWS, rows - first);
    gpu.dispatch(kernel, { src, targets, dst, params: { first, width: elements } }, [Math.ceil(elements / WORKGROUP_SIZE), count]);
  }
}
