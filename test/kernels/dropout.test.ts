import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dropout } from '../../src/autograd/ops/dropout.js';
import { backward } from '../../src/autograd/tape.js';
import { Tensor } from '../../src/autograd/tensor.js';
import { assertClose } from '../support/compare.js';
import { checkGradients, checkGradientsAgainstReference, reportWorst } from '../support/check-op.js';
import { testGpu } from '../support/engine.js';
import { randomArray } from '../support/random.js';
import * as ref from '../support/reference.js';

test.before(async () => {
  await testGpu();
});

async function run(x: Tensor, rate: number, seed: number): Promise<Float32Array> {
  const out = dropout(x, rate, seed);
  const values = await out.toArray();
  out.release();
  return values;
}

// Sizes with and without a remainder after the vec4 invocations, and below 4.
const CASES: [number[], number, number][] = [
  [[7, 13], 0.1, 1],
  [[3, 5, 17], 0.5, 123456789],
  [[1, 1], 0.3, 0xfffffffe],
  [[1, 3], 0.5, 8],
  [[2, 3], 0.2, 7],
  [[4, 6], 0.25, 2 ** 31],
];
for (const [shape, rate, seed] of CASES) {
  test(`dropout ${JSON.stringify(shape)} rate ${rate} matches the CPU generator exactly`, async () => {
    const size = shape.reduce((p, d) => p * d, 1);
    const x = randomArray(size, 3);
    const tx = Tensor.fromArray(x, shape);
    const expected = Array.from(x, (value, i) => Math.fround(value * Math.fround(ref.dropoutFactor(rate, seed, i))));
    assertClose(await run(tx, rate, seed), expected, 'dropout', { rtol: 0, atol: 0 });
    tx.release();
  });
}

test('dropout on 100k elements: reproducible, seeds differ, keep fraction close to 1 - rate', async () => {
  const n = 100_000;
  const tx = Tensor.fromArray(new Float32Array(n).fill(1), [n]);
  for (const rate of [0.1, 0.5, 0.9]) {
    const a = await run(tx, rate, 42);
    const again = await run(tx, rate, 42);
    const other = await run(tx, rate, 43);
    assert.equal(a, again, 'same seed, same mask');
    let kept = 0;
    let agree = 0;
    for (let i = 0; i < n; i++) {
      const keptHere = a[i] !== 0;
      if (keptHere) {
        kept++;
        assert.ok(Math.abs(a[i] - 1 / (1 - rate)) < 1e-6, 'kept elements are scaled by 1 / (1 - rate)');
      }
      if (keptHere === (other[i] !== 0)) agree++;
    }
    const keep = 1 - rate;
    const sigma = Math.sqrt((keep * rate) / n);
    assert.ok(Math.abs(kept / n - keep) < 5 * sigma, `rate ${rate}: kept ${kept / n}, expected ${keep}`);
    // Independent masks agree on a fraction keep^2 + rate^2 of the elements.
    const expectedAgreement = keep * keep + rate * rate;
    assert.ok(Math.abs(agree / n - expectedAgreement) < 0.01, `rate ${rate}: seeds 42 and 43 agree on ${agree / n}, independent masks ${expectedAgreement}`);
  }
  tx.release();
});

test('dropout rate 0 returns its input itself; bad rates are refused', () => {
  const tx = Tensor.fromArray([1, 2, 3], [3], { requiresGrad: true });
  assert.is(dropout(tx, 0, 5), tx);
  assert.throws(() => dropout(tx, 1, 5), /\[0, 1\)/);
  assert.throws(() => dropout(tx, -0.1, 5), /\[0, 1\)/);
  assert.throws(() => dropout(tx, 0.1, 1.5), /integer/);
  tx.release();
});

test('dropout backward applies the forward mask', async () => {
  const n = 1000;
  const rate = 0.25;
  const tx = Tensor.fromArray(randomArray(n, 9), [n], { requiresGrad: true });
  const out = dropout(tx, rate, 77);
  const forward = await out.toArray();
  const seedGrad = Tensor.fromArray(new Float32Array(n).fill(2), [n]);
  backward(out, seedGrad);
  const grad = await tx.grad!.toArray();
  for (let i = 0; i < n; i++) {
    const factor = ref.dropoutFactor(rate, 77, i);
    assert.is(grad[i], Math.fround(2 * Math.fround(factor)), `element ${i}`);
    if (factor === 0) assert.is(forward[i], 0, `element ${i} is dropped in the forward too`);
  }
  for (const t of [tx.grad!, tx, out, seedGrad]) t.release();
});

test('dropout gradients', async () => {
  for (const shape of [[7, 13], [2, 3, 5]]) await checkGradients('dropout', [shape], ([x]) => dropout(x, 0.4, 2024));
  await checkGradientsAgainstReference(
    'dropout',
    [[5, 9]],
    ([x]) => dropout(x, 0.3, 99),
    ([x]) => x.map((value, i) => value * ref.dropoutFactor(0.3, 99, i)),
    { tolerance: 1e-6 },
  );
});

test.after(() => reportWorst());
test.run();
