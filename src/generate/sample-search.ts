import { banTokens, sampleTokens } from '../autograd/ops/decoding.js';
import { embedding } from '../autograd/ops/embedding.js';
import { noGrad } from '../autograd/tape.js';
import type { Tensor } from '../autograd/tensor.js';
import type { SimBert } from '../model/bert.js';
import { bannedTokens, ngramCompletions, type BanRules } from './bans.js';
import { KvDecoder, type StepRow } from './kv-decoder.js';

export interface SampleOptions extends BanRules {
  /** Sequences per input (1 with greedy). */
  n: number;
  greedy: boolean;
  /** 0: no top-k. */
  topk: number;
  /** 1: no top-p. */
  topp: number;
  temperature: number;
  /** Most tokens generated per sequence ([SEP] included). */
  maxlen: number;
  seed: number;
  /** Checked between steps; generation stops with an error once it is aborted. */
  signal?: AbortSignal;
}

/** What decoding produced for one input. */
export interface InputSequences {
  /** Generated ids without the final [SEP], in the order of their sample streams. */
  sequences: number[][];
  /** performance.now() when the input's last sequence ended. */
  finishedAt: number;
}

interface LiveRow extends StepRow {
  /** The row's random stream: its index among its input's n rows. */
  stream: number;
  ids: number[];
}

export class GenerationInterrupted extends Error {
  constructor() {
    super('generation interrupted');
    this.name = 'GenerationInterrupted';
  }
}

/** Throws GenerationInterrupted once the signal is aborted. */
export function checkSignal(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new GenerationInterrupted();
}

/**
 * bert4keras random_sample (and greedy search as its n = 1 argmax case) with a key/value cache:
 * every input's source is run once, its first distribution is shared by its n rows, then each
 * live row feeds one token per step. A row ends when it draws [SEP] (not kept) or after
 * `maxlen` tokens; ended rows leave the batch. Row j of every input draws from random stream j,
 * so an input's results do not depend on which other inputs decode beside it.
 */
export async function sampleSequences(model: SimBert, sources: readonly (readonly number[])[], options: SampleOptions): Promise<InputSequences[]> {
  const n = options.greedy ? 1 : options.n;
  const decoder = new KvDecoder(model, sources, sources.length * n, options.maxlen);
  const sourceNgrams = sources.map((ids) => (options.noRepeatNgram > 0 ? ngramCompletions(ids.slice(1, -1), options.noRepeatNgram) : null));
  const results: InputSequences[] = sources.map(() => ({ sequences: [], finishedAt: 0 }));
  const remaining = sources.map(() => n);
  let live: LiveRow[] = [];
  sources.forEach((_, input) => {
    for (let j = 0; j < n; j++) live.push({ input, slot: input * n + j, stream: j, token: -1, ids: [] });
  });
  let first: Tensor | null = null;
  try {
    first = decoder.prefill();
    for (let t = 0; t < options.maxlen && live.length > 0; t++) {
      checkSignal(options.signal);
      const chosen = await drawStep(decoder, first, live, t, options, sourceNgrams);
      const now = performance.now();
      const next: LiveRow[] = [];
      live.forEach((row, r) => {
        const id = chosen[r];
        if (id < 0) throw new Error(`every token was banned for a sequence of input ${row.input + 1}; lower --min-len or --no-repeat-ngram`);
        const ended = id === options.sepId;
        if (!ended) row.ids.push(id);
        if (ended || row.ids.length >= options.maxlen) {
          results[row.input].sequences[row.stream] = row.ids;
          if (--remaining[row.input] === 0) results[row.input].finishedAt = now;
        } else {
          next.push({ ...row, token: id });
        }
      });
      live = next;
    }
  } finally {
    first?.release();
    decoder.release();
  }
  return results;
}

/**
 * Rows that continue one input with the same generated tokens, in order of first appearance, and
 * each row's group. With top-k sampling many of an input's n rows draw the same first tokens; such
 * rows compute the same hidden states and logits, so the decoder runs each group once.
 */
function sameHistories(rows: readonly LiveRow[]): { groups: LiveRow[][]; groupOfRow: number[] } {
  const index = new Map<string, number>();
  const groups: LiveRow[][] = [];
  const groupOfRow = rows.map((row) => {
    const key = `${row.input}:${row.ids.join(',')}`;
    let g = index.get(key);
    if (g === undefined) {
      g = groups.length;
      index.set(key, g);
      groups.push([]);
    }
    groups[g].push(row);
    return g;
  });
  return { groups, groupOfRow };
}

/** The token each live row draws as its generated token t: logits from the prefill at t = 0, else from feeding token t - 1. */
async function drawStep(
  decoder: KvDecoder, first: Tensor, live: readonly LiveRow[], t: number, options: SampleOptions, sourceNgrams: (Map<string, Set<number>> | null)[],
): Promise<number[]> {
  // Rows of one chunk share a cache page and their logits fit one storage binding.
  const chunks: LiveRow[][] = [];
  const limit = decoder.maxLogitRows();
  for (const row of live) {
    const chunk = chunks[chunks.length - 1];
    if (chunk && chunk.length < limit && decoder.pageOf(chunk[0].slot) === decoder.pageOf(row.slot)) chunk.push(row);
    else chunks.push([row]);
  }
  const reads = chunks.map((rows) => {
    let logits: Tensor;
    if (t === 0) {
      logits = noGrad(() => embedding(first, rows.map((row) => row.input), [rows.length]));
    } else {
      const { groups, groupOfRow } = sameHistories(rows);
      const hidden = decoder.step(groups, t - 1);
      const groupLogits = decoder.logits(hidden, 0, groups.length);
      hidden.release();
      if (groups.length === rows.length) logits = groupLogits;
      else {
        logits = noGrad(() => embedding(groupLogits, groupOfRow, [rows.length]));
        groupLogits.release();
      }
    }
    const bans = rows.flatMap((row, r) => bannedTokens(row.ids, options, sourceNgrams[row.input]).map((token) => [r, token] as const));
    banTokens(logits, bans);
    const chosen = sampleTokens(logits, rows.map((row) => row.stream), {
      greedy: options.greedy, topk: options.topk, topp: options.topp, temperature: options.temperature, seed: options.seed, step: t,
    });
    logits.release();
    return chosen;
  });
  const values: number[] = [];
  for (const chosen of reads) {
    values.push(...(await chosen.toArray()));
    chosen.release();
  }
  return values;
}
