import * as cached from '../../kernels/cached-attention.js';
import * as sampling from '../../kernels/sampling.js';
import { activeGpu } from '../engine.js';
import { formatShape, Tensor } from '../tensor.js';

/**
 * Inference-only ops for autoregressive decoding (nothing is recorded on the tape): attention
 * against a key/value cache, writes into a cache, banning tokens, and choosing tokens on the GPU.
 * Token ids travel as f32 tensors (exact below 2^24).
 */

/**
 * Where one decoding row's keys live: its input's source rows and its own slot of generated rows.
 * Rows of one input are best kept consecutive: they then share their source's loads.
 */
export interface CachedRow {
  /** First row of the input's source keys in the source cache. */
  srcStart: number;
  srcLen: number;
  /** First row of this row's generated keys in the generated cache. */
  genStart: number;
}

/** A layer's key/value cache: source rows [sourceRows, hidden], generated rows [slots * maxGen, hidden]. */
export interface LayerCache {
  srcK: Tensor;
  srcV: Tensor;
  genK: Tensor;
  genV: Tensor;
}

function checkRows(name: string, t: Tensor, width: number): number {
  if (t.rank !== 2 || t.shape[1] !== width) throw new Error(`${name}: expected [rows, ${width}], got ${formatShape(t.shape)}`);
  return t.shape[0];
}

/** softmax(q k^T / sqrt(d)) v for one query per row (q [rows, hidden]) over its cached keys; genLen generated keys per row. */
export function cachedAttention(q: Tensor, cache: LayerCache, rows: readonly CachedRow[], heads: number, genLen: number): Tensor {
  const hidden = q.shape[q.rank - 1];
  if (q.rank !== 2 || q.shape[0] !== rows.length) throw new Error(`cachedAttention: q ${formatShape(q.shape)} for ${rows.length} rows`);
  if (!Number.isInteger(heads) || heads < 1 || hidden % heads !== 0) throw new Error(`cachedAttention: ${heads} heads do not divide hidden size ${hidden}`);
  const sourceRows = checkRows('cachedAttention source keys', cache.srcK, hidden);
  const generatedRows = checkRows('cachedAttention generated keys', cache.genK, hidden);
  checkRows('cachedAttention source values', cache.srcV, hidden);
  checkRows('cachedAttention generated values', cache.genV, hidden);
  rows.forEach((row, r) => {
    if (row.srcStart + row.srcLen > sourceRows || row.genStart + genLen > generatedRows) {
      throw new Error(`cachedAttention: row ${r} reads past the cache (${sourceRows} source, ${generatedRows} generated rows)`);
    }
  });
  const gpu = activeGpu();
  const { info, groups } = cached.cachedAttentionInfo(rows, cached.cachedAttentionGroupSize(gpu));
  const infoBuffer = gpu.upload(info, 'cachedAttention.info');
  const out = Tensor.empty(q.shape, 'cachedAttention');
  cached.cachedAttention(
    gpu,
    { q: q.buffer, srcK: cache.srcK.buffer, srcV: cache.srcV.buffer, genK: cache.genK.buffer, genV: cache.genV.buffer, info: infoBuffer, out: out.buffer },
    { rows: rows.length, heads, headDim: hidden / heads, genLen, groups },
  );
  gpu.release(infoBuffer);
  return out;
}

/** dst[targets[r]] = src[r] for each row r of src [rows, width] (dst [n, width], written in place). */
export function scatterRows(src: Tensor, dst: Tensor, targets: readonly number[]): void {
  const width = src.shape[src.rank - 1];
  const rows = src.size / width;
  const dstRows = dst.size / width;
  if (dst.shape[dst.rank - 1] !== width || targets.length !== rows) {
    throw new Error(`scatterRows: ${formatShape(src.shape)} into ${formatShape(dst.shape)} at ${targets.length} rows`);
  }
  for (const target of targets) {
    if (!Number.isInteger(target) || target < 0 || target >= dstRows) throw new Error(`scatterRows: row ${target} is outside ${formatShape(dst.shape)}`);
  }
  const gpu = activeGpu();
  const targetBuffer = gpu.upload(Uint32Array.from(targets), 'scatterRows.targets');
  cached.scatterRows(gpu, src.buffer, targetBuffer, dst.buffer, rows, width);
  gpu.release(targetBuffer);
}

/** Copies all of src into dst starting at element `offset` (contiguous). */
export function copyInto(src: Tensor, dst: Tensor, offset: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + src.size > dst.size) {
    throw new Error(`copyInto: ${formatShape(src.shape)} at ${offset} overruns ${formatShape(dst.shape)}`);
  }
  activeGpu().copy(src.buffer, dst.buffer, src.size * 4, 0, offset * 4);
}

/** Bans tokens in place: logits [rows, vocab] gets -inf at each (row, token). */
export function banTokens(logits: Tensor, cells: readonly (readonly [row: number, token: number])[]): void {
  if (cells.length === 0) return;
  const [rows, vocab] = logits.shape;
  const flat = new Uint32Array(2 * cells.length);
  cells.forEach(([row, token], i) => {
    if (!(row >= 0 && row < rows && token >= 0 && token < vocab)) throw new Error(`banTokens: (${row}, ${token}) is outside ${formatShape(logits.shape)}`);
    flat[2 * i] = row;
    flat[2 * i + 1] = token;
  });
  const gpu = activeGpu();
  const buffer = gpu.upload(flat, 'banTokens.cells');
  sampling.maskTokens(gpu, buffer, logits.buffer, cells.length, vocab);
  gpu.release(buffer);
}

export type SamplingParams = sampling.SamplingParams;

/** The chosen token of each row of logits [rows, vocab], as f32 [rows] (-1 where every token is banned). */
export function sampleTokens(logits: Tensor, streams: readonly number[], params: SamplingParams): Tensor {
  const [rows, vocab] = logits.shape;
  if (logits.rank !== 2 || streams.length !== rows) throw new Error(`sampleTokens: logits ${formatShape(logits.shape)} with ${streams.length} streams`);
  const gpu = activeGpu();
  const streamBuffer = gpu.upload(Uint32Array.from(streams, (s) => s >>> 0), 'sampleTokens.streams');
  const chosen = Tensor.empty([rows], 'sampleTokens');
  sampling.sampleTokens(gpu, { logits: logits.buffer, streams: streamBuffer, chosen: chosen.buffer }, rows, vocab, params);
  gpu.release(streamBuffer);
  return chosen;
}

/** Rows of one beam group: rows first..first+count-1 of the logits, keeping `keep` continuations. */
export interface BeamGroup {
  first: number;
  count: number;
  keep: number;
}

/**
 * One beam-search step: for each group its `keep` best (parent row, token, score) by
 * beamScores[row] + log_softmax(logits[row] / temperature), as f32 [groups, width, 3], best first.
 */
export function beamStep(logits: Tensor, beamScores: readonly number[], groups: readonly BeamGroup[], width: number, temperature: number): Tensor {
  const [rows, vocab] = logits.shape;
  if (logits.rank !== 2 || beamScores.length !== rows) throw new Error(`beamStep: logits ${formatShape(logits.shape)} with ${beamScores.length} scores`);
  const info = new Uint32Array(3 * groups.length);
  groups.forEach((g, i) => {
    if (g.first + g.count > rows || g.keep > width || g.keep < 1) throw new Error(`beamStep: group ${i} (${JSON.stringify(g)}) does not fit ${rows} rows and width ${width}`);
    info.set([g.first, g.count, g.keep], 3 * i);
  });
  const gpu = activeGpu();
  const scores = gpu.upload(Float32Array.from(beamScores), 'beamStep.scores');
  const groupInfo = gpu.upload(info, 'beamStep.groups');
  const candScore = gpu.allocate(rows * width * 4, 'beamStep.candidateScores');
  const candToken = gpu.allocate(rows * width * 4, 'beamStep.candidateTokens');
  const chosen = Tensor.empty([groups.length, width, 3], 'beamStep');
  sampling.beamStep(gpu, { logits: logits.buffer, beamScores: scores, groupInfo, candScore, candToken, chosen: chosen.buffer }, { rows, vocab, groups: groups.length, width, temperature });
  for (const buffer of [scores, groupInfo, candScore, candToken]) gpu.release(buffer);
  return chosen;
}
