import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { activeGpu } from '../../src/autograd/engine.js';
import { softmaxCrossEntropy } from '../../src/autograd/ops/losses.js';
import { Tensor } from '../../src/autograd/tensor.js';
import * as kernels from '../../src/kernels/softmax-xent.js';
import { maxCrossEntropyRows } from '../../src/kernels/softmax-xent.js';
import { checkGradients, checkGradientsAgainstReference, reportWorst } from '../support/check-op.js';
import { testGpu } from '../support/engine.js';
import { randomArray, randomInts } from '../support/random.js';
import * as ref from '../support/reference.js';

test.before(async () => {
  await testGpu();
});

/** Targets with every third row ignored (-1). */
function targetsFor(rows: number, vocab: number, seed: number): number[] {
  return randomInts(rows, vocab, seed).map((t, r) => (r % 3 === 1 ? -1 : t));
}

// Vocabularies divisible by 4 take the kernels reading four logits per load.
for (const [rows, vocab, scale] of [[1, 1, 1], [7, 13, 3], [5, 1000, 10], [33, 21128, 4], [3, 65, 80], [4, 4, 5], [6, 36, 80]]) {
  test(`softmaxCrossEntropy ${rows}x${vocab} (logits scale ${scale}) matches float64, ignored rows skipped`, async () => {
    const logits = randomArray(rows * vocab, rows + vocab, scale);
    const targets = rows === 1 ? [0] : targetsFor(rows, vocab, 5);
    const t = Tensor.fromArray(logits, [rows, vocab]);
    const loss = softmaxCrossEntropy(t, targets);
    const actual = await loss.item();
    const expected = ref.softmaxCrossEntropy(logits, targets, vocab);
    const error = Math.abs(actual - expected) / Math.max(1, Math.abs(expected));
    console.log(`worst: reference softmaxCrossEntropy ${rows}x${vocab} ${error.toExponential(2)}`);
    assert.ok(error < 2e-6, `loss ${actual}, expected ${expected}`);
    for (const x of [t, loss]) x.release();
  });
}

for (const vocab of [7, 8]) {
  test(`softmaxCrossEntropy ${vocab} wide with a logit 200 above the others in each column matches float64`, async () => {
    const logits = randomArray(vocab * vocab, vocab);
    for (let r = 0; r < vocab; r++) logits[r * vocab + r] = 200;
    const targets = randomInts(vocab, vocab, 3);
    const t = Tensor.fromArray(logits, [vocab, vocab]);
    const loss = softmaxCrossEntropy(t, targets);
    const actual = await loss.item();
    const expected = ref.softmaxCrossEntropy(logits, targets, vocab);
    assert.ok(Math.abs(actual - expected) / expected < 2e-6, `loss ${actual}, expected ${expected}`);
    for (const x of [t, loss]) x.release();
  });
}

test('softmaxCrossEntropy with every row ignored is 0 with a zero gradient', async () => {
  const t = Tensor.fromArray(randomArray(3 * 4, 1), [3, 4], { requiresGrad: true });
  const loss = softmaxCrossEntropy(t, [-1, -1, -1]);
  assert.is(await loss.item(), 0);
  const { backward } = await import('../../src/autograd/tape.js');
  backward(loss);
  assert.equal(Array.from(await t.grad!.toArray()), new Array(12).fill(0));
  for (const x of [t.grad!, t, loss]) x.release();
});

test('softmaxCrossEntropy refuses bad targets and logits beyond the binding limit', () => {
  const t = Tensor.fromArray(randomArray(2 * 4, 1), [2, 4]);
  assert.throws(() => softmaxCrossEntropy(t, [0]), /1 targets for 2 rows/);
  assert.throws(() => softmaxCrossEntropy(t, [0, 4]), /target 4 of row 1/);
  assert.throws(() => softmaxCrossEntropy(t, [-2, 0]), /target -2/);
  t.release();
  // The launcher checks the size before dispatching, so small buffers can stand in for huge logits.
  const gpu = activeGpu();
  const vocab = 21128;
  const rows = maxCrossEntropyRows(gpu, vocab) + 1;
  const small = gpu.allocate(16, 'small');
  assert.throws(
    () => kernels.softmaxCrossEntropy(gpu, small, small, small, small, small, rows, vocab, 1),
    /logits \[\d+, 21128\] take \d+ bytes, more than the \d+-byte storage binding limit; split them into chunks of at most \d+ rows/,
  );
  assert.throws(() => kernels.softmaxCrossEntropyBackward(gpu, small, small, small, small, small, rows, vocab, 1), /storage binding limit/);
  gpu.release(small);
});

test('softmaxCrossEntropy gradients', async () => {
  for (const [rows, vocab] of [[1, 1], [4, 7], [7, 13], [2, 300], [3, 70]]) {
    const targets = rows === 1 ? [0] : targetsFor(rows, vocab, rows);
    await checkGradients('softmaxCrossEntropy', [[rows, vocab]], ([x]) => softmaxCrossEntropy(x, targets), { scale: 3 });
  }
  for (const [vocab, targets] of [[9, [2, -1, 0, 8, 8]], [12, [2, -1, 5, 11, 0, 7]]] as const) {
    await checkGradientsAgainstReference(
      'softmaxCrossEntropy',
      [[targets.length, vocab]],
      ([x]) => softmaxCrossEntropy(x, targets),
      ([x]) => Float64Array.of(ref.softmaxCrossEntropy(x, targets, vocab)),
      { tolerance: 1e-5 },
    );
  }
});

test.after(() => reportWorst());
test.run();
