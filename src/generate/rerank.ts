/** gen_synonyms' reranking: candidates ordered by the cosine of their pooled vectors to the input's. */

export interface Candidate {
  text: string;
  /** Generated ids (simplified vocabulary), without the final [SEP]. */
  ids: number[];
  cosine: number;
}

/** Pooled vectors of texts, each encoded alone, as rows of a [texts, hidden] array. */
export type EncodeCandidates = (texts: string[]) => Promise<Float32Array>;

function cosine(vectors: Float32Array, hidden: number, a: number, b: number): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < hidden; i++) {
    const x = vectors[a * hidden + i];
    const y = vectors[b * hidden + i];
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return dot / Math.sqrt(na * nb);
}

/**
 * Exact-string dedupe (the first sequence of each text kept), the input itself dropped (with
 * `keepAll`, as for a greedy or beam result, neither), then the cosine of each candidate's pooled
 * vector with the input's, descending (equal cosines keep generation order), the best `k`.
 */
export async function rerank(
  input: string, generated: readonly { text: string; ids: number[] }[], k: number, hidden: number, encode: EncodeCandidates, keepAll = false,
): Promise<Candidate[]> {
  const seen = new Set<string>();
  const unique = keepAll ? [...generated] : generated.filter((c) => {
    if (c.text === input || seen.has(c.text)) return false;
    seen.add(c.text);
    return true;
  });
  if (unique.length === 0) return [];
  const vectors = await encode([input, ...unique.map((c) => c.text)]);
  const scored = unique.map((c, i) => ({ text: c.text, ids: c.ids, cosine: cosine(vectors, hidden, 0, i + 1) }));
  return scored.map((c, order) => ({ c, order })).sort((a, b) => b.c.cosine - a.c.cosine || a.order - b.order).slice(0, k).map(({ c }) => c);
}
