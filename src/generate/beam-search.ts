import { banTokens, beamStep, type BeamGroup } from '../autograd/ops/decoding.js';
import type { Tensor } from '../autograd/tensor.js';
import type { SimBert } from '../model/bert.js';
import { bannedTokens, ngramCompletions, type BanRules } from './bans.js';
import { KvDecoder } from './kv-decoder.js';
import { checkSignal, type InputSequences } from './sample-search.js';

export interface BeamOptions extends BanRules {
  /** Beam width B. */
  beam: number;
  /** Hypotheses are compared by score / length^lengthPenalty (0: summed log-probabilities, as bert4keras). */
  lengthPenalty: number;
  temperature: number;
  maxlen: number;
  signal?: AbortSignal;
}

interface Hypothesis {
  /** Generated ids, [SEP] included when it ended. */
  ids: number[];
  score: number;
}

interface Group {
  beams: Hypothesis[];
  result: number[] | null;
}

/**
 * bert4keras beam_search with a key/value cache, every input's beams in one batch. Each step a
 * group keeps its `width` best continuations by summed log-probability (chosen on the GPU; only
 * parents, tokens and scores come back). When its best hypothesis has just emitted [SEP] it is
 * the result; otherwise ended hypotheses are dropped and the width shrinks to the live ones. After
 * `maxlen` tokens the best live hypothesis is the result.
 */
export async function beamSearch(model: SimBert, sources: readonly (readonly number[])[], options: BeamOptions): Promise<InputSequences[]> {
  const width = options.beam;
  const decoder = new KvDecoder(model, sources, sources.length * width, options.maxlen);
  const sourceNgrams = sources.map((ids) => (options.noRepeatNgram > 0 ? ngramCompletions(ids.slice(1, -1), options.noRepeatNgram) : null));
  const rank = (h: Hypothesis) => (options.lengthPenalty === 0 ? h.score : h.score / h.ids.length ** options.lengthPenalty);
  const best = (hs: Hypothesis[]) => hs.reduce((a, b) => (rank(b) > rank(a) ? b : a));
  const groups: Group[] = sources.map(() => ({ beams: [{ ids: [], score: 0 }], result: null }));
  const finishedAt = sources.map(() => 0);
  let logits: Tensor | null = null;
  try {
    logits = decoder.prefill();
    for (let t = 0; t < options.maxlen; t++) {
      checkSignal(options.signal);
      // Rows in group order: the live groups' hypotheses (at t = 0, each input's prefill row).
      const active = groups.map((g, input) => ({ g, input })).filter(({ g }) => g.result === null);
      const rows = active.flatMap(({ g, input }) => g.beams.map((beam) => ({ input, beam })));
      const batchGroups: BeamGroup[] = [];
      let first = 0;
      for (const { g } of active) {
        batchGroups.push({ first, count: g.beams.length, keep: t === 0 ? width : g.beams.length });
        first += g.beams.length;
      }
      banTokens(logits, rows.flatMap(({ input, beam }, r) => bannedTokens(beam.ids, options, sourceNgrams[input]).map((token) => [r, token] as const)));
      const chosenTensor = beamStep(logits, rows.map(({ beam }) => beam.score), batchGroups, width, options.temperature);
      logits.release();
      logits = null;
      const chosen = await chosenTensor.toArray();
      chosenTensor.release();
      const now = performance.now();
      const parents: number[] = [];
      const next: { input: number; slot: number; token: number }[] = [];
      active.forEach(({ g, input }, gi) => {
        const hypotheses: { h: Hypothesis; parent: number }[] = [];
        for (let j = 0; j < batchGroups[gi].keep; j++) {
          const at = 3 * (gi * width + j);
          if (chosen[at + 1] < 0) break;
          const parent = chosen[at];
          hypotheses.push({ h: { ids: [...rows[parent].beam.ids, chosen[at + 1]], score: chosen[at + 2] }, parent });
        }
        if (hypotheses.length === 0) throw new Error(`every token was banned for input ${input + 1}; lower --min-len or --no-repeat-ngram`);
        const ended = (h: Hypothesis) => h.ids[h.ids.length - 1] === options.sepId;
        const top = best(hypotheses.map(({ h }) => h));
        const live = hypotheses.filter(({ h }) => !ended(h));
        if (ended(top) || t + 1 === options.maxlen) {
          g.result = ended(top) ? top.ids.slice(0, -1) : best(live.map(({ h }) => h)).ids;
          finishedAt[input] = now;
          return;
        }
        g.beams = live.map(({ h }) => h);
        for (const { h, parent } of live) {
          parents.push(parent);
          next.push({ input, slot: next.length, token: h.ids[h.ids.length - 1] });
        }
      });
      if (next.length === 0) break;
      // Row r of the next step continues parent row parents[r] of this one: its cache moves with it.
      if (t > 0) decoder.reorder(parents);
      const hidden = decoder.step(next.map((row) => [row]), t);
      logits = decoder.logits(hidden, 0, next.length);
      hidden.release();
    }
  } finally {
    logits?.release();
    decoder.release();
  }
  return groups.map((g, input) => ({ sequences: [g.result ?? []], finishedAt: finishedAt[input] }));
}
