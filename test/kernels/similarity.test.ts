import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { similarityLoss } from '../../src/autograd/ops/losses.js';
import { backward } from '../../src/autograd/tape.js';
import { Tensor } from '../../src/autograd/tensor.js';
import { maxRelativeError } from '../support/compare.js';
import { checkGradients, checkGradientsAgainstReference, reportWorst } from '../support/check-op.js';
import { testGpu } from '../support/engine.js';
import { randomArray, rng } from '../support/random.js';
import * as ref from '../support/reference.js';

test.before(async () => {
  await testGpu();
});

/** Pairs of nearly parallel vectors (cosine ~ 1 - spread^2), as trained paraphrase pairs give. */
function nearParallel(rows: number, hidden: number, spread: number, seed: number): Float32Array {
  const base = randomArray(rows * hidden, seed, 1);
  const noise = rng(seed + 1);
  const out = new Float32Array(rows * hidden);
  for (let r = 0; r < rows; r++) {
    const source = r & ~1;
    for (let c = 0; c < hidden; c++) out[r * hidden + c] = base[source * hidden + c] + spread * (noise() * 2 - 1);
  }
  return out;
}

/** Every row close to one common direction (cosines ~0.97 across pairs, ~1 - spread^2 within): the loss stays O(1). */
function crowded(rows: number, hidden: number, spread: number, seed: number): Float32Array {
  const common = randomArray(hidden, seed, 1);
  const pairs = nearParallel(rows, hidden, spread, seed + 1);
  return pairs.map((v, i) => common[i % hidden] + 0.2 * v);
}

const CASES: [string, number, number, () => Float32Array][] = [
  ['random 2x5', 2, 5, () => randomArray(10, 1)],
  ['random 6x7', 6, 7, () => randomArray(42, 2, 3)],
  ['near-parallel pairs 16x33', 16, 33, () => nearParallel(16, 33, 1e-3, 3)],
  ['all rows almost identical 8x64', 8, 64, () => nearParallel(8, 64, 1e-4, 4).map((v, i) => v + (i % 64) * 10)],
  ['crowded near-parallel rows 16x48', 16, 48, () => crowded(16, 48, 1e-3, 7)],
  ['64x1024', 64, 1024, () => randomArray(64 * 1024, 5, 0.2)],
  ['with a zero row (clamped norm) 4x9', 4, 9, () => randomArray(36, 6).map((v, i) => (i < 9 ? 0 : v))],
];

for (const [name, rows, hidden, make] of CASES) {
  test(`similarityLoss ${name} matches float64`, async () => {
    const x = make();
    const t = Tensor.fromArray(x, [rows, hidden]);
    const loss = similarityLoss(t);
    const actual = await loss.item();
    const expected = ref.similarityLoss(x, rows, hidden, 30);
    const error = Math.abs(actual - expected) / Math.max(1, Math.abs(expected));
    console.log(`worst: reference similarityLoss ${name} ${error.toExponential(2)}`);
    assert.ok(error < 1e-5, `loss ${actual}, expected ${expected}`);
    for (const v of [t, loss]) v.release();
  });
}

test('similarityLoss scale is a parameter; odd rows are refused', async () => {
  const x = randomArray(4 * 6, 9);
  const t = Tensor.fromArray(x, [4, 6]);
  const loss = similarityLoss(t, 5);
  assert.ok(Math.abs((await loss.item()) - ref.similarityLoss(x, 4, 6, 5)) < 1e-5);
  loss.release();
  t.release();
  const odd = Tensor.fromArray(randomArray(3 * 2, 1), [3, 2]);
  assert.throws(() => similarityLoss(odd), /pairs/);
  odd.release();
});

test('similarityLoss gradients', async () => {
  for (const [rows, hidden] of [[2, 3], [6, 7], [4, 16]]) {
    await checkGradients('similarityLoss', [[rows, hidden]], ([x]) => similarityLoss(x), { step: 1e-3 });
  }
  // Near-parallel pairs: the loss is flat there, so a larger step keeps float32 noise below the slope.
  await checkGradients('similarityLoss', [[4, 5]], ([x]) => similarityLoss(x, 4), { inputs: [nearParallel(4, 5, 0.05, 8)], step: 1e-2, tolerance: 3e-3 });
  for (const [rows, hidden, seed] of [[6, 5, 11], [8, 6, 12]]) {
    await checkGradientsAgainstReference(
      'similarityLoss',
      [[rows, hidden]],
      ([x]) => similarityLoss(x),
      ([x]) => Float64Array.of(ref.similarityLoss(x, rows, hidden, 30)),
      { tolerance: 2e-5, seed },
    );
  }
});

test('similarityLoss gradient at crowded near-parallel rows against float64 central differences', async () => {
  const [rows, hidden] = [8, 12];
  for (const spread of [1e-2, 1e-3]) {
    const x = crowded(rows, hidden, spread, 21);
    const t = Tensor.fromArray(x, [rows, hidden], { requiresGrad: true });
    const loss = similarityLoss(t);
    backward(loss);
    const analytic = await t.grad!.toArray();
    const point = Float64Array.from(x);
    const numeric = new Float64Array(x.length);
    const h = 1e-6;
    for (let c = 0; c < x.length; c++) {
      const original = point[c];
      point[c] = original + h;
      const plus = ref.similarityLoss(point, rows, hidden);
      point[c] = original - h;
      const minus = ref.similarityLoss(point, rows, hidden);
      point[c] = original;
      numeric[c] = (plus - minus) / (2 * h);
    }
    const error = maxRelativeError(analytic, numeric);
    console.log(`worst: f64-reference gradient similarityLoss crowded near-parallel spread ${spread} ${error.toExponential(2)}`);
    assert.ok(error < 1e-4, `spread ${spread}: gradient differs from float64 by ${error.toExponential(2)} of the largest`);
    for (const v of [t.grad!, t, loss]) v.release();
  }
});

test.after(() => reportWorst());
test.run();
