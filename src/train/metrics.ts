/**
 * Evaluation metrics over similarity scores and labels; pure functions.
 *
 * - A pair is predicted similar when `score > threshold` (strict, as SimBERT's evaluation
 *   `(sims > threshold) == labels`).
 * - Binary metrics (accuracy, best threshold, ROC AUC) take labels 0/1. A graded set (STS-B
 *   scores 0..5) is made binary by {@link binaryLabelsOf}: a score above 2.5 counts as similar.
 * - Spearman's rank correlation works on any labels and is reported for binary sets too.
 * - Undefined results (AUC with one class only, a correlation with a constant side) are NaN.
 */

/** A graded label strictly above this counts as a positive for the binary metrics. */
export const GRADED_POSITIVE_ABOVE = 2.5;

/** Cosine of the angle between two vectors; 0 when either vector is all zeros. */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`vectors differ in length: ${a.length} and ${b.length}`);
  let dot = 0;
  let normA = 0;
  let normB = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    dot += x * y;
    normA += x * x;
    normB += y * y;
  }
  if (normA === 0 || normB === 0) return 0;
  return dot / (Math.sqrt(normA) * Math.sqrt(normB));
}

function checkScoresAndLabels(scores: readonly number[], labels: readonly number[], binary: boolean): void {
  if (scores.length !== labels.length) throw new RangeError(`${scores.length} scores but ${labels.length} labels`);
  if (scores.length === 0) throw new RangeError('no scores to evaluate');
  scores.forEach((score, index) => {
    if (!Number.isFinite(score)) throw new RangeError(`score ${index} is ${score}`);
  });
  labels.forEach((label, index) => {
    if (binary ? label !== 0 && label !== 1 : !Number.isFinite(label)) {
      throw new RangeError(`label ${index} is ${label}; expected ${binary ? '0 or 1' : 'a finite number'}`);
    }
  });
}

/** 0/1 labels: graded labels above {@link GRADED_POSITIVE_ABOVE} become 1; binary ones are copied. */
export function binaryLabelsOf(labels: readonly number[], graded: boolean): number[] {
  return labels.map((label) => (graded ? (label > GRADED_POSITIVE_ABOVE ? 1 : 0) : label));
}

/** Fraction of pairs where `score > threshold` agrees with a label of 1. */
export function accuracyAtThreshold(scores: readonly number[], labels: readonly number[], threshold: number): number {
  checkScoresAndLabels(scores, labels, true);
  let correct = 0;
  for (let i = 0; i < scores.length; i++) {
    if ((scores[i] as number) > threshold === (labels[i] === 1)) correct++;
  }
  return correct / scores.length;
}

export interface ThresholdChoice {
  threshold: number;
  accuracy: number;
}

/**
 * The threshold with the highest accuracy. Candidates are the midpoints between consecutive
 * distinct scores, plus the two ends: `min - max(1, |min|)` (every pair positive) and the
 * largest score (every pair negative, since the comparison is strict). Ties go to the lowest
 * threshold. O(n log n).
 */
export function bestThreshold(scores: readonly number[], labels: readonly number[]): ThresholdChoice {
  checkScoresAndLabels(scores, labels, true);
  const order = scores.map((_, index) => index).sort((i, j) => (scores[i] as number) - (scores[j] as number));
  const lowest = scores[order[0] as number] as number;
  // Start below every score: all predicted positive, so the positives are right.
  let correct = labels.reduce((sum, label) => sum + label, 0);
  let best: ThresholdChoice = { threshold: lowest - Math.max(1, Math.abs(lowest)), accuracy: correct / scores.length };
  let position = 0;
  while (position < order.length) {
    // Raise the threshold past one distinct score: the pairs with that score become negative.
    const value = scores[order[position] as number] as number;
    while (position < order.length && scores[order[position] as number] === value) {
      correct += labels[order[position] as number] === 1 ? -1 : 1;
      position++;
    }
    let threshold = value;
    if (position < order.length) {
      const nextValue = scores[order[position] as number] as number;
      threshold = value + (nextValue - value) / 2;
      // Between adjacent doubles the midpoint can round up to nextValue, which `>` would misjudge.
      if (threshold >= nextValue) threshold = value;
    }
    if (correct / scores.length > best.accuracy) best = { threshold, accuracy: correct / scores.length };
  }
  return best;
}

/** Ranks from 1, ties given the average of the ranks they span. */
export function averageRanks(values: readonly number[]): number[] {
  const order = values.map((_, index) => index).sort((i, j) => (values[i] as number) - (values[j] as number));
  const ranks = new Array<number>(values.length);
  let start = 0;
  while (start < order.length) {
    let end = start + 1;
    while (end < order.length && values[order[end] as number] === values[order[start] as number]) end++;
    const averageRank = (start + 1 + end) / 2; // mean of ranks start+1 .. end
    for (let k = start; k < end; k++) ranks[order[k] as number] = averageRank;
    start = end;
  }
  return ranks;
}

/**
 * Area under the ROC curve: the probability that a random positive scores above a random
 * negative, ties counting half (the Mann-Whitney U statistic over n_pos * n_neg). NaN when one
 * class is missing.
 */
export function rocAuc(scores: readonly number[], labels: readonly number[]): number {
  checkScoresAndLabels(scores, labels, true);
  const ranks = averageRanks(scores);
  let positives = 0;
  let positiveRankSum = 0;
  labels.forEach((label, index) => {
    if (label === 1) {
      positives++;
      positiveRankSum += ranks[index] as number;
    }
  });
  const negatives = labels.length - positives;
  if (positives === 0 || negatives === 0) return NaN;
  return (positiveRankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Pearson's correlation coefficient; NaN when either side is constant. */
export function pearsonCorrelation(x: readonly number[], y: readonly number[]): number {
  if (x.length !== y.length) throw new RangeError(`${x.length} values but ${y.length} values`);
  if (x.length === 0) throw new RangeError('no values to correlate');
  const meanX = x.reduce((sum, value) => sum + value, 0) / x.length;
  const meanY = y.reduce((sum, value) => sum + value, 0) / y.length;
  let covariance = 0;
  let varianceX = 0;
  let varianceY = 0;
  for (let i = 0; i < x.length; i++) {
    const dx = (x[i] as number) - meanX;
    const dy = (y[i] as number) - meanY;
    covariance += dx * dy;
    varianceX += dx * dx;
    varianceY += dy * dy;
  }
  if (varianceX === 0 || varianceY === 0) return NaN;
  return covariance / Math.sqrt(varianceX * varianceY);
}

/** Spearman's rank correlation: Pearson's over average ranks, so ties are handled. */
export function spearmanCorrelation(scores: readonly number[], labels: readonly number[]): number {
  checkScoresAndLabels(scores, labels, false);
  return pearsonCorrelation(averageRanks(scores), averageRanks(labels));
}

export interface SimilarityEvaluation {
  pairs: number;
  /** Pairs counted positive (label 1, or a graded label above 2.5). */
  positives: number;
  threshold: number;
  accuracy: number;
  bestThreshold: number;
  bestAccuracy: number;
  auc: number;
  spearman: number;
}

/** Every metric at once, as the trainer logs them after each epoch. */
export function evaluateSimilarity(
  scores: readonly number[],
  labels: readonly number[],
  options: { threshold: number; graded: boolean },
): SimilarityEvaluation {
  const binary = binaryLabelsOf(labels, options.graded);
  const best = bestThreshold(scores, binary);
  return {
    pairs: scores.length,
    positives: binary.reduce((sum, label) => sum + label, 0),
    threshold: options.threshold,
    accuracy: accuracyAtThreshold(scores, binary, options.threshold),
    bestThreshold: best.threshold,
    bestAccuracy: best.accuracy,
    auc: rocAuc(scores, binary),
    spearman: spearmanCorrelation(scores, labels),
  };
}

/** A metrics record as the training log and `eval` write it: snake_case keys, undefined results (NaN) as null. */
export interface MetricsRecord {
  accuracy: number | null;
  threshold: number | null;
  best_threshold: number | null;
  best_threshold_accuracy: number | null;
  auc: number | null;
  spearman: number | null;
}

function finiteOrNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

export function metricsRecord(metrics: SimilarityEvaluation): MetricsRecord {
  return {
    accuracy: finiteOrNull(metrics.accuracy),
    threshold: finiteOrNull(metrics.threshold),
    best_threshold: finiteOrNull(metrics.bestThreshold),
    best_threshold_accuracy: finiteOrNull(metrics.bestAccuracy),
    auc: finiteOrNull(metrics.auc),
    spearman: finiteOrNull(metrics.spearman),
  };
}
