import { noGrad } from '../autograd/tape.js';
import { scope } from '../autograd/tensor.js';
import type { BertBatch, SimBert } from '../model/bert.js';
import type { Tokenizer } from '../model/tokenizer.js';
import { inferenceModel } from '../model/inference.js';
import { cosineSimilarity, evaluateSimilarity, type SimilarityEvaluation } from './metrics.js';
import type { TestPair } from './data.js';

/** Rows of token and segment ids padded with 0 to the longest row. */
export function padRows(rows: { ids: number[]; segments: number[] }[]): BertBatch {
  const seqLen = Math.max(...rows.map((row) => row.ids.length));
  const tokenIds = new Int32Array(rows.length * seqLen);
  const segmentIds = new Int32Array(rows.length * seqLen);
  rows.forEach((row, r) => {
    tokenIds.set(row.ids, r * seqLen);
    segmentIds.set(row.segments, r * seqLen);
  });
  return { batch: rows.length, seqLen, tokenIds, segmentIds };
}

export interface EncodeOptions {
  maxlen: number;
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * The pooled vector of each text encoded alone ([CLS] text [SEP], segment 0), as rows of a
 * [texts.length, hidden] array. No dropout, no tape.
 */
export async function encodeTexts(model: SimBert, tokenizer: Tokenizer, texts: readonly string[], options: EncodeOptions): Promise<Float32Array> {
  const hidden = model.config.hiddenSize;
  const batchSize = options.batchSize ?? 64;
  const out = new Float32Array(texts.length * hidden);
  const encodings = texts.map((text) => tokenizer.encode(text, undefined, options.maxlen));
  // Batches of similar lengths waste less on padding; results go back to the input order.
  const order = [...encodings.keys()].sort((a, b) => encodings[a].ids.length - encodings[b].ids.length);
  const inference = inferenceModel(model);
  try {
    for (let start = 0; start < order.length; start += batchSize) {
      const indices = order.slice(start, start + batchSize);
      const batch = padRows(indices.map((i) => encodings[i]));
      const pooled = scope(() => noGrad(() => inference.model.encode(batch, { training: false, pooledOnly: true }).pooled));
      const vectors = await pooled.toArray();
      pooled.release();
      indices.forEach((textIndex, row) => out.set(vectors.subarray(row * hidden, (row + 1) * hidden), textIndex * hidden));
      options.onProgress?.(Math.min(start + batchSize, texts.length), texts.length);
    }
  } finally {
    inference.release();
  }
  return out;
}

/** Cosine similarity of each pair's pooled vectors and the metrics of DESIGN.md. */
export async function evaluatePairs(
  model: SimBert,
  tokenizer: Tokenizer,
  pairs: readonly TestPair[],
  options: EncodeOptions & { threshold: number; graded: boolean },
): Promise<{ scores: number[]; metrics: SimilarityEvaluation }> {
  const unique = [...new Set(pairs.flatMap((pair) => [pair.a, pair.b]))];
  const index = new Map(unique.map((text, i) => [text, i]));
  const vectors = await encodeTexts(model, tokenizer, unique, options);
  const hidden = model.config.hiddenSize;
  const row = (text: string) => vectors.subarray(index.get(text)! * hidden, (index.get(text)! + 1) * hidden);
  const scores = pairs.map((pair) => cosineSimilarity(row(pair.a), row(pair.b)));
  const metrics = evaluateSimilarity(scores, pairs.map((pair) => pair.label), { threshold: options.threshold, graded: options.graded });
  return { scores, metrics };
}
