import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  accuracyAtThreshold,
  averageRanks,
  bestThreshold,
  binaryLabelsOf,
  cosineSimilarity,
  evaluateSimilarity,
  pearsonCorrelation,
  rocAuc,
  spearmanCorrelation,
} from '../../src/train/metrics.js';
import { SeededRandom } from '../../src/model/random.js';

function assertClose(actual: number, expected: number, tolerance = 1e-12): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `expected ${expected}, got ${actual}`);
}

// Six pairs with a tie between a positive and a negative at 0.8.
const scores = [0.9, 0.8, 0.8, 0.3, 0.5, 0.1];
const labels = [1, 1, 0, 0, 1, 0];

test('cosine similarity', () => {
  assertClose(cosineSimilarity([1, 0], [0, 1]), 0);
  assertClose(cosineSimilarity([1, 2, 2], [2, 4, 4]), 1);
  assertClose(cosineSimilarity([3, 4], [4, 3]), 24 / 25);
  assertClose(cosineSimilarity(new Float32Array([1, 1]), [-1, -1]), -1);
  assert.is(cosineSimilarity([0, 0], [1, 2]), 0);
  assert.throws(() => cosineSimilarity([1], [1, 2]), /differ in length/);
});

test('accuracy counts a pair positive only when its score is strictly above the threshold', () => {
  // > 0.8: only 0.9 is positive -> right on pairs 0, 2, 3, 5.
  assertClose(accuracyAtThreshold(scores, labels, 0.8), 4 / 6);
  // > 0.5: 0.9, 0.8, 0.8 positive -> pair 4 (0.5, label 1) is wrong; >= would have made it right.
  assertClose(accuracyAtThreshold(scores, labels, 0.5), 4 / 6);
  assertClose(accuracyAtThreshold(scores, labels, 0.4), 5 / 6);
  assertClose(accuracyAtThreshold(scores, labels, 1), 3 / 6);
});

test('best threshold: midpoints between distinct scores, hand-computed', () => {
  // Thresholds and accuracies: -0.9 -> 3/6, 0.2 -> 4/6, 0.4 -> 5/6, 0.65 -> 4/6, 0.85 -> 4/6, 0.9 -> 3/6.
  const best = bestThreshold(scores, labels);
  assertClose(best.threshold, 0.4, 1e-15);
  assertClose(best.accuracy, 5 / 6);
  assertClose(accuracyAtThreshold(scores, labels, best.threshold), best.accuracy);
});

test('best threshold: ties go to the lowest threshold', () => {
  // 0.3 and 0.7 both give 3/4.
  const best = bestThreshold([0.2, 0.4, 0.6, 0.8], [0, 1, 0, 1]);
  assertClose(best.threshold, 0.3, 1e-15);
  assertClose(best.accuracy, 0.75);
});

test('best threshold at the ends: all positive below the smallest score, all negative at the largest', () => {
  const allPositive = bestThreshold([0.5, 0.2, 0.2], [1, 1, 1]);
  assert.equal(allPositive, { threshold: 0.2 - 1, accuracy: 1 });
  const allNegative = bestThreshold([0.5, 0.2, 0.2], [0, 0, 0]);
  assert.equal(allNegative, { threshold: 0.5, accuracy: 1 });
});

test('best threshold between adjacent doubles still separates them', () => {
  const low = 1;
  const high = 1 + Number.EPSILON;
  const best = bestThreshold([high, low], [1, 0]);
  assert.is(best.accuracy, 1);
  assert.is(accuracyAtThreshold([high, low], [1, 0], best.threshold), 1);
});

test('average ranks give ties the mean of their ranks', () => {
  assert.equal(averageRanks([10, 30, 20, 30, 30, 5]), [2, 5, 3, 5, 5, 1]);
});

test('ROC AUC counts ties as half, hand-computed', () => {
  // Positives 0.9, 0.8, 0.5 against negatives 0.8, 0.3, 0.1: 3 + (0.5 + 2) + 2 = 7.5 of 9.
  assertClose(rocAuc(scores, labels), 7.5 / 9);
  assertClose(rocAuc([0.1, 0.2], [1, 0]), 0);
  assertClose(rocAuc([0.3, 0.3, 0.3], [1, 0, 1]), 0.5);
  assert.ok(Number.isNaN(rocAuc([0.1, 0.2], [1, 1])));
});

test('Spearman correlation with ties, hand-computed', () => {
  // Ranks [1, 2.5, 2.5, 4] and [1, 2, 3.5, 3.5]: covariance 3.75, variances 4.5 and 4.5.
  assertClose(spearmanCorrelation([1, 2, 2, 3], [10, 20, 30, 30]), 3.75 / 4.5);
  assertClose(spearmanCorrelation([1, 2, 3], [30, 20, 10]), -1);
  assert.ok(Number.isNaN(spearmanCorrelation([1, 2, 3], [4, 4, 4])));
});

test('Pearson correlation', () => {
  assertClose(pearsonCorrelation([1, 2, 3, 4], [2, 4, 6, 8]), 1);
  // Centred x = [-1, 0, 1], y = [-1, 2, -1]: covariance 0.
  assertClose(pearsonCorrelation([1, 2, 3], [1, 4, 1]), 0);
});

test('ROC AUC agrees with counting every positive-negative pair, on random sets with ties', () => {
  const random = new SeededRandom(21);
  for (let round = 0; round < 20; round++) {
    const size = 2 + random.nextInt(300);
    const roundedScores = Array.from({ length: size }, () => Math.round(random.nextFloat() * 20) / 20);
    const randomLabels = Array.from({ length: size }, (_, i) => (i < 1 ? 1 : i < 2 ? 0 : random.nextInt(2)));
    let wins = 0;
    let pairs = 0;
    for (let i = 0; i < size; i++) {
      for (let j = 0; j < size; j++) {
        if (randomLabels[i] !== 1 || randomLabels[j] !== 0) continue;
        pairs++;
        wins += roundedScores[i]! > roundedScores[j]! ? 1 : roundedScores[i] === roundedScores[j] ? 0.5 : 0;
      }
    }
    assertClose(rocAuc(roundedScores, randomLabels), wins / pairs, 1e-12);
  }
});

test('Spearman agrees with 1 - 6 sum d^2 / (n (n^2 - 1)) on random sets without ties', () => {
  const random = new SeededRandom(22);
  for (let round = 0; round < 20; round++) {
    const n = 3 + random.nextInt(200);
    const x = Array.from({ length: n }, () => random.nextFloat());
    const y = x.map((value) => value + random.nextNormal() * 0.3);
    const rankX = x.map((value) => x.filter((other) => other < value).length + 1);
    const rankY = y.map((value) => y.filter((other) => other < value).length + 1);
    const squaredDifferences = rankX.reduce((sum, rank, i) => sum + (rank - rankY[i]!) ** 2, 0);
    assertClose(spearmanCorrelation(x, y), 1 - (6 * squaredDifferences) / (n * (n * n - 1)), 1e-9);
  }
});

test('best threshold agrees with trying every score as a threshold, on random sets', () => {
  const random = new SeededRandom(23);
  for (let round = 0; round < 20; round++) {
    const size = 1 + random.nextInt(100);
    const roundedScores = Array.from({ length: size }, () => Math.round(random.nextFloat() * 10) / 10);
    const randomLabels = Array.from({ length: size }, () => random.nextInt(2));
    const candidates = [-Infinity, ...roundedScores];
    const bruteForce = Math.max(...candidates.map((threshold) => accuracyAtThreshold(roundedScores, randomLabels, threshold)));
    const best = bestThreshold(roundedScores, randomLabels);
    assertClose(best.accuracy, bruteForce);
    assertClose(accuracyAtThreshold(roundedScores, randomLabels, best.threshold), best.accuracy);
  }
});

test('graded labels: a score above 2.5 counts as positive', () => {
  assert.equal(binaryLabelsOf([0, 2.5, 2.6, 3, 5], true), [0, 0, 1, 1, 1]);
  assert.equal(binaryLabelsOf([0, 1, 1], false), [0, 1, 1]);
});

test('evaluateSimilarity gathers every metric; graded sets keep their scores for Spearman', () => {
  const binary = evaluateSimilarity(scores, labels, { threshold: 0.8, graded: false });
  assert.is(binary.pairs, 6);
  assert.is(binary.positives, 3);
  assertClose(binary.accuracy, 4 / 6);
  assertClose(binary.bestAccuracy, 5 / 6);
  assertClose(binary.bestThreshold, 0.4, 1e-15);
  assertClose(binary.auc, 7.5 / 9);
  const graded = evaluateSimilarity([0.1, 0.5, 0.7, 0.9], [0, 2, 3, 5], { threshold: 0.6, graded: true });
  assert.is(graded.positives, 2);
  assert.is(graded.accuracy, 1);
  assert.is(graded.auc, 1);
  assertClose(graded.spearman, 1);
});

test('bad input throws', () => {
  assert.throws(() => accuracyAtThreshold([0.1], [1, 0], 0.5), /1 scores but 2 labels/);
  assert.throws(() => rocAuc([], []), /no scores/);
  assert.throws(() => bestThreshold([0.1, NaN], [1, 0]), /score 1 is NaN/);
  assert.throws(() => rocAuc([0.1, 0.2], [1, 2]), /label 1 is 2; expected 0 or 1/);
});

test.run();
