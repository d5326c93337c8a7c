/** CPU references for token choice (bert4keras AutoRegressiveDecoder semantics), in float64. */

/** Probabilities softmax(logits / temperature) of one row; -Infinity logits get 0. */
export function probabilities(logits: ArrayLike<number>, temperature = 1): Float64Array {
  let top = -Infinity;
  for (let i = 0; i < logits.length; i++) top = Math.max(top, logits[i] / temperature);
  const p = Float64Array.from(logits, (x) => (x === -Infinity ? 0 : Math.exp(x / temperature - top)));
  const total = p.reduce((a, b) => a + b, 0);
  return p.map((x) => x / total);
}

/**
 * The tokens random_sample may draw and their renormalised probabilities: sort descending; top-k
 * keeps the first k; top-p keeps up to and including the token where the cumulative probability
 * (of the top-k renormalised ones) first reaches p.
 */
export function keptDistribution(logits: ArrayLike<number>, options: { topk?: number; topp?: number; temperature?: number }): Map<number, number> {
  const p = probabilities(logits, options.temperature ?? 1);
  let order = [...p.keys()].filter((i) => p[i] > 0 || logits[i] !== -Infinity).sort((a, b) => p[b] - p[a] || a - b);
  if (options.topk) order = order.slice(0, options.topk);
  let total = order.reduce((s, i) => s + p[i], 0);
  if (options.topp !== undefined && options.topp < 1) {
    let cumulative = 0;
    const kept: number[] = [];
    for (const i of order) {
      kept.push(i);
      cumulative += p[i] / total;
      if (cumulative >= options.topp) break;
    }
    order = kept;
    total = order.reduce((s, i) => s + p[i], 0);
  }
  return new Map(order.map((i) => [i, p[i] / total]));
}

/** log_softmax(logits / temperature) of one row. */
export function logProbabilities(logits: ArrayLike<number>, temperature = 1): Float64Array {
  return probabilities(logits, temperature).map(Math.log);
}

/** One beam group's best `keep` continuations (parent row within the group, token, score), best first. */
export function beamChoices(rows: ArrayLike<number>[], scores: number[], keep: number, temperature = 1): { parent: number; token: number; score: number }[] {
  const all: { parent: number; token: number; score: number }[] = [];
  rows.forEach((logits, parent) => {
    const lp = logProbabilities(logits, temperature);
    lp.forEach((value, token) => {
      if (logits[token] !== -Infinity) all.push({ parent, token, score: scores[parent] + value });
    });
  });
  all.sort((a, b) => b.score - a.score || a.parent - b.parent || a.token - b.token);
  return all.slice(0, keep);
}
