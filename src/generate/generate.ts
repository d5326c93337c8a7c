import type { SimBert } from '../model/bert.js';
import { inferenceModel } from '../model/inference.js';
import type { Tokenizer } from '../model/tokenizer.js';
import { beamSearch } from './beam-search.js';
import { decodeIds } from './detokenize.js';
import { rerank, type Candidate } from './rerank.js';
import { sampleSequences, type InputSequences } from './sample-search.js';

export interface GenerateOptions {
  /** gen_synonyms' random sampling, greedy search, or beam search. */
  mode: 'sample' | 'greedy' | 'beam';
  /** Sequences sampled per input. */
  n: number;
  /** Candidates kept per input after reranking. */
  k: number;
  /** 0: no top-k. */
  topk: number;
  /** 1: no top-p. */
  topp: number;
  temperature: number;
  /** Most tokens generated per sequence, and the source's truncation length (as gen_synonyms). */
  maxlen: number;
  minLen: number;
  seed: number;
  beam: number;
  lengthPenalty: number;
  noRepeatNgram: number;
  signal?: AbortSignal;
}

/** Pooled vectors of texts, each encoded alone by `model`, as rows of a [texts, hidden] array. */
export type EncodeTexts = (model: SimBert, texts: string[]) => Promise<Float32Array>;

export interface GenerateResult {
  text: string;
  candidates: Candidate[];
  /** Wall time from the start of decoding until this input's sequences ended, plus its rerank. */
  seconds: number;
  /** Tokens the decoder generated for this input, each sequence's final [SEP] included. */
  generatedTokens: number;
}

/**
 * gen_synonyms for several texts at once: every text's rows decode in one batch, then each text's
 * sequences are decoded to text and reranked by cosine with the text (`encode` gives pooled
 * vectors). Decoding and reranking run on an inference view of the model (src/model/inference.ts). Greedy and beam search return their one sequence as decoded, even when it equals the input.
 */
export async function generateParaphrases(
  model: SimBert, tokenizer: Tokenizer, texts: readonly string[], options: GenerateOptions, encode: EncodeTexts,
): Promise<GenerateResult[]> {
  const started = performance.now();
  const inference = inferenceModel(model);
  try {
    return await generateWith(inference.model, tokenizer, texts, options, encode, started);
  } finally {
    inference.release();
  }
}

async function generateWith(
  model: SimBert, tokenizer: Tokenizer, texts: readonly string[], options: GenerateOptions, encode: EncodeTexts, started: number,
): Promise<GenerateResult[]> {
  const sources = texts.map((text) => tokenizer.encode(text, undefined, options.maxlen).ids);
  const rules = { minLen: options.minLen, noRepeatNgram: options.noRepeatNgram, sepId: tokenizer.sepId, padId: tokenizer.padId };
  let decoded: InputSequences[];
  if (options.mode === 'beam') {
    decoded = await beamSearch(model, sources, {
      ...rules, beam: options.beam, lengthPenalty: options.lengthPenalty, temperature: options.temperature, maxlen: options.maxlen, signal: options.signal,
    });
  } else {
    decoded = await sampleSequences(model, sources, {
      ...rules, n: options.n, greedy: options.mode === 'greedy', topk: options.topk, topp: options.topp, temperature: options.temperature,
      maxlen: options.maxlen, seed: options.seed, signal: options.signal,
    });
  }
  const single = options.mode !== 'sample';
  const results: GenerateResult[] = [];
  for (let i = 0; i < texts.length; i++) {
    const rerankStarted = performance.now();
    const generated = decoded[i].sequences.map((ids) => ({ text: decodeIds(ids, tokenizer.vocab.tokens), ids }));
    const candidates = await rerank(texts[i], generated, single ? 1 : options.k, model.config.hiddenSize, (batch) => encode(model, batch), single);
    const generatedTokens = decoded[i].sequences.reduce((sum, ids) => sum + Math.min(ids.length + 1, options.maxlen), 0);
    results.push({ text: texts[i], candidates, seconds: (decoded[i].finishedAt - started + performance.now() - rerankStarted) / 1000, generatedTokens });
  }
  return results;
}
