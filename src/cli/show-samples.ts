import { generateParaphrases } from '../generate/generate.js';
import type { SimBert } from '../model/bert.js';
import type { Tokenizer } from '../model/tokenizer.js';
import { encodeTexts } from '../train/encode.js';

/** Training texts whose paraphrases are shown: the first text of the first few groups. */
const SHOWN_TEXTS = 3;

/**
 * SimBERT's just_show for `train --show-samples N`: at an epoch end, N paraphrases of a few fixed
 * training texts (gen_synonyms: 4N sampled at top-k 5, reranked, seed 0), printed and returned as
 * the metrics record {"epoch", "samples": [{"text", "paraphrases"}]}.
 */
export function epochSamples(model: SimBert, tokenizer: Tokenizer, groups: readonly string[][], count: number, print: (line: string) => void) {
  const texts = groups.slice(0, SHOWN_TEXTS).map((group) => group[0]);
  const maxlen = Math.min(32, Math.floor(model.config.maxPositionEmbeddings / 2));
  return async (epoch: number) => {
    const results = await generateParaphrases(model, tokenizer, texts, {
      mode: 'sample', n: 4 * count, k: count, topk: 5, topp: 1, temperature: 1, maxlen, minLen: 0, seed: 0, beam: 1, lengthPenalty: 0, noRepeatNgram: 0,
    }, (view, candidates) => encodeTexts(view, tokenizer, candidates, { maxlen: view.config.maxPositionEmbeddings }));
    const samples = results.map((r) => ({ text: r.text, paraphrases: r.candidates.map((c) => c.text) }));
    for (const sample of samples) print(`epoch ${epoch} paraphrases of ${sample.text}: ${sample.paraphrases.join(' | ') || '(none)'}`);
    return { epoch, samples };
  };
}
