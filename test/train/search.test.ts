import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cosineSimilarity } from '../../src/train/metrics.js';
import { CosineIndex } from '../../src/train/search.js';
import { randomArray, randomInts } from '../support/random.js';

/** Every row scored, sorted best first with ties in row order: what search must agree with. */
function bruteForce(vectors: Float32Array, dim: number, query: Float32Array, k: number): { index: number; score: number }[] {
  const rows = vectors.length / dim;
  const all = Array.from({ length: rows }, (_, index) => ({ index, score: cosineSimilarity(vectors.subarray(index * dim, (index + 1) * dim), query) }));
  all.sort((a, b) => (a.score === b.score ? a.index - b.index : b.score - a.score));
  return all.slice(0, k);
}

test('top-k equals a full sort of cosineSimilarity for every k, including k above the corpus size', () => {
  const dim = 7;
  const rows = 53;
  const vectors = randomArray(rows * dim, 3);
  const index = new CosineIndex(vectors, dim);
  assert.is(index.count, rows);
  for (let q = 0; q < 5; q++) {
    const query = randomArray(dim, 100 + q);
    for (const k of [1, 2, 5, 17, rows - 1, rows, rows + 10]) {
      assert.equal(index.search(query, k), bruteForce(vectors, dim, query, k), `query ${q}, k ${k}`);
    }
  }
});

test('equal scores rank in corpus order: repeated rows, scaled copies and all-zero vectors', () => {
  const dim = 4;
  const base = [randomArray(dim, 1), randomArray(dim, 2), randomArray(dim, 3)];
  // Rows: each of 40 is a copy of one base vector (exact ties), or all zeros (cosine 0).
  const choices = randomInts(40, 4, 9);
  const vectors = new Float32Array(40 * dim);
  choices.forEach((choice, row) => {
    if (choice < 3) vectors.set(base[choice], row * dim);
  });
  const index = new CosineIndex(vectors, dim);
  for (const query of [...base, new Float32Array(dim), Float32Array.from(base[0], (x) => -x)]) {
    const hits = index.search(query, 40);
    assert.equal(hits, bruteForce(vectors, dim, query, 40));
    for (let i = 1; i < hits.length; i++) {
      const [a, b] = [hits[i - 1], hits[i]];
      assert.ok(a.score > b.score || (a.score === b.score && a.index < b.index), `hits ${i - 1} and ${i} out of order`);
    }
  }
  const zeroQuery = index.search(new Float32Array(dim), 3);
  assert.equal(zeroQuery, [{ index: 0, score: 0 }, { index: 1, score: 0 }, { index: 2, score: 0 }]);
  const self = index.search(base[1], 1)[0];
  assert.is(choices[self.index], 1);
  assert.is(self.index, choices.indexOf(1), 'the first copy of the query wins the tie');
  assert.ok(Math.abs(self.score - 1) < 1e-12);
});

test('bad input is refused with a reason', () => {
  assert.throws(() => new CosineIndex(new Float32Array(10), 3), /10 values are not rows of 3/);
  assert.throws(() => new CosineIndex(new Float32Array(10), 0), /positive integer/);
  assert.throws(() => new CosineIndex(Float32Array.from([1, 2, NaN, 4]), 2), /corpus vector 1 has a non-finite value NaN/);
  const index = new CosineIndex(randomArray(12, 4), 3);
  assert.throws(() => index.search(new Float32Array(4), 2), /query has 4 values, the corpus vectors 3/);
  assert.throws(() => index.search(new Float32Array(3), 0), /k must be a positive integer/);
  assert.throws(() => index.search(Float32Array.from([1, Infinity, 0]), 2), /non-finite/);
});

test.run();
