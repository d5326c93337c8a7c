/**
 * Tokens a decoding row may not emit next: [PAD] always (bert4keras would mask a generated [PAD]
 * out of all later attention, which a cache cannot undo; it decodes to nothing anyway), [SEP]
 * before --min-len, and --no-repeat-ngram repeats.
 */

export interface BanRules {
  /** [SEP] is banned until this many tokens have been generated. */
  minLen: number;
  /** When > 0: no n-gram of this size may occur twice in the generated text or copy one of the source. */
  noRepeatNgram: number;
  sepId: number;
  padId: number;
}

/** The n-grams of a token sequence, keyed by their first n-1 tokens, as the sets of tokens that complete them. */
export function ngramCompletions(tokens: readonly number[], n: number, into = new Map<string, Set<number>>()): Map<string, Set<number>> {
  for (let i = 0; i + n <= tokens.length; i++) {
    const key = tokens.slice(i, i + n - 1).join(',');
    let completions = into.get(key);
    if (!completions) into.set(key, (completions = new Set()));
    completions.add(tokens[i + n - 1]);
  }
  return into;
}

/**
 * The tokens `generated` may not be followed by. `sourceNgrams` are the n-grams of the source's
 * text (no [CLS]/[SEP]), from ngramCompletions: with them no-repeat-ngram keeps candidates from
 * copying the input as well as from repeating themselves.
 */
export function bannedTokens(generated: readonly number[], rules: BanRules, sourceNgrams: Map<string, Set<number>> | null): number[] {
  const banned = new Set<number>([rules.padId]);
  if (generated.length < rules.minLen) banned.add(rules.sepId);
  const n = rules.noRepeatNgram;
  if (n > 0 && generated.length >= n - 1) {
    const key = generated.slice(generated.length - (n - 1)).join(',');
    for (const token of sourceNgrams?.get(key) ?? []) banned.add(token);
    for (const token of ngramCompletions(generated, n).get(key) ?? []) banned.add(token);
  }
  return [...banned];
}
