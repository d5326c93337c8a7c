import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AdamW } from '../../src/autograd/adamw.js';
import { backward, noGrad } from '../../src/autograd/tape.js';
import { scope, type Tensor } from '../../src/autograd/tensor.js';
import { SimBert, type BertBatch } from '../../src/model/bert.js';
import { parseBertConfig } from '../../src/model/config.js';
import { uploadWeights } from '../../src/model/parameters.js';
import { maxRelativeError } from '../support/compare.js';
import { testGpu } from '../support/engine.js';
import { loadParityFixture, type FixtureArray } from '../support/parity-fixture.js';

/**
 * Parity with the PyTorch reference in the manner of llm.c's test_gpt2: the same weights and
 * batch must give the same hidden states, logits, losses and gradients, and the same losses
 * over five AdamW steps.
 */
const fixture = loadParityFixture();
const config = parseBertConfig(fixture.config, 'parity fixture');
const batch: BertBatch = {
  batch: fixture.batch,
  seqLen: fixture.seqLen,
  tokenIds: fixture.ids.flat(),
  segmentIds: fixture.segments.flat(),
};
const forward = { training: true, dropout: 0 };

function freshModel(): SimBert {
  return new SimBert(config, uploadWeights(config, new Map([...fixture.params].map(([name, a]) => [name, a.data]))));
}

function releaseModel(model: SimBert): void {
  for (const weight of model.weights.values()) {
    weight.grad?.release();
    weight.release();
  }
}

function relativeLossError(actual: number, expected: number): number {
  return Math.abs(actual - expected) / Math.abs(expected);
}

async function compareArray(name: string, tensor: Tensor, expected: FixtureArray, tolerance: number): Promise<number> {
  assert.equal([...tensor.shape], expected.shape, `${name} shape`);
  const error = maxRelativeError(await tensor.toArray(), expected.data);
  assert.ok(error <= tolerance, `${name}: max relative error ${error.toExponential(2)} > ${tolerance}`);
  return error;
}

test.before(async () => {
  await testGpu();
});

test('forward: hidden states, pooled output, MLM logits and both losses match PyTorch', async () => {
  const model = freshModel();
  const result = scope(() => {
    const out = model.loss(batch, { ...forward, collectHiddenStates: true });
    return [out.total, out.seq2seq, out.similarity, out.pooled, model.mlmLogits(out.sequence), ...out.hiddenStates];
  });
  const [total, seq2seq, similarity, pooled, logits, ...hidden] = result;
  for (let i = 0; i < hidden.length; i++) await compareArray(`hidden state ${i}`, hidden[i], fixture.hiddenStates[i], 1e-5);
  const pooledError = await compareArray('pooled', pooled, fixture.pooled, 1e-5);
  const logitsError = await compareArray('logits', logits, fixture.logits, 1e-5);
  const losses = { total: await total.item(), seq2seq: await seq2seq.item(), similarity: await similarity.item() };
  for (const key of ['total', 'seq2seq', 'similarity'] as const) {
    const error = relativeLossError(losses[key], fixture.losses[key]);
    console.log(`worst: parity ${key} loss ${losses[key]} vs ${fixture.losses[key]} (relative ${error.toExponential(2)})`);
    assert.ok(error <= 1e-5, `${key} loss ${losses[key]} vs PyTorch ${fixture.losses[key]}: relative error ${error.toExponential(2)}`);
  }
  console.log(`worst: parity pooled ${pooledError.toExponential(2)}, logits ${logitsError.toExponential(2)}`);
  for (const t of result) t.release();
  releaseModel(model);
});

/**
 * Relative to the tensor's largest expected gradient, with a floor of 1e-3 of the largest
 * gradient of the whole model. The key biases' gradient is zero in exact arithmetic (softmax is
 * shift invariant): PyTorch's ~1e-17 and our float32 rounding noise can only be compared
 * absolutely, against 1e-2 of the largest gradient (so within 1e-6 of it, a few float32 ulps;
 * with the 1e-3 floor a mere reordering of a float32 sum upstream could cross the limit).
 */
test('encoding for pooled vectors only (last layer on the [CLS] rows) matches the pooled output of PyTorch', async () => {
  const model = freshModel();
  const encoded = scope(() => noGrad(() => {
    const { sequence, pooled } = model.encode(batch, { ...forward, pooledOnly: true });
    return { sequence, pooled };
  }));
  assert.equal(encoded.sequence.shape, [batch.batch, fixture.pooled.shape[1]]);
  const error = await compareArray('pooled (pooledOnly)', encoded.pooled, fixture.pooled, 1e-5);
  console.log(`worst: parity pooled with pooledOnly ${error.toExponential(2)}`);
  for (const t of [encoded.sequence, encoded.pooled]) t.release();
  releaseModel(model);
});

test('backward: every parameter gradient matches PyTorch within 1e-4 relative', async () => {
  const model = freshModel();
  scope(() => {
    backward(model.loss(batch, forward).total);
  });
  let worst = 0;
  let worstName = '';
  const largest = Math.max(...[...fixture.grads.values()].map((g) => Math.max(...Array.from(g.data, Math.abs))));
  for (const [name, expected] of fixture.grads) {
    const grad = model.weight(name).grad;
    assert.ok(grad, `no gradient for ${name}`);
    const actual = await grad.toArray();
    let difference = 0;
    let largestHere = 0;
    for (let i = 0; i < actual.length; i++) {
      difference = Math.max(difference, Math.abs(actual[i] - expected.data[i]));
      largestHere = Math.max(largestHere, Math.abs(expected.data[i]));
    }
    const zeroInExactArithmetic = largestHere < 1e-9 * largest;
    const error = difference / (zeroInExactArithmetic ? 1e-2 * largest : Math.max(largestHere, 1e-3 * largest));
    if (error > worst) [worst, worstName] = [error, name];
    assert.ok(error <= 1e-4, `gradient of ${name}: max relative error ${error.toExponential(2)} > 1e-4`);
  }
  console.log(`worst: parity gradient ${worstName} ${worst.toExponential(2)} (over ${fixture.grads.size} parameters)`);
  releaseModel(model);
});

/**
 * Along the AdamW trajectory each loss part is compared relative to the step's total loss: the
 * similarity part falls to 0.03, where its own relative error (1.2e-4 after five steps) measures
 * float32 noise amplified by the scale of 30 rather than a difference in the recipe.
 */
test('five AdamW steps give PyTorch losses and parameters', async () => {
  const model = freshModel();
  const optimizer = new AdamW(model.weights, { lr: fixture.lr, weightDecay: fixture.weightDecay });
  let worst = 0;
  for (let step = 0; step <= fixture.adam.steps; step++) {
    const [total, seq2seq, similarity] = scope(() => {
      const out = model.loss(batch, forward);
      if (step < fixture.adam.steps) backward(out.total);
      return [out.total, out.seq2seq, out.similarity];
    });
    const actual = { total: await total.item(), seq2seq: await seq2seq.item(), similarity: await similarity.item() };
    for (const t of [total, seq2seq, similarity]) t.release();
    for (const key of ['total', 'seq2seq', 'similarity'] as const) {
      const error = Math.abs(actual[key] - fixture.adamwLosses[step][key]) / fixture.adamwLosses[step].total;
      worst = Math.max(worst, error);
      assert.ok(error <= 1e-5, `step ${step} ${key} loss ${actual[key]} vs PyTorch ${fixture.adamwLosses[step][key]} (${error.toExponential(2)})`);
    }
    if (step < fixture.adam.steps) {
      optimizer.step();
      for (const weight of model.weights.values()) {
        weight.grad?.release();
        weight.grad = null;
      }
    }
  }
  console.log(`worst: parity AdamW losses over ${fixture.adam.steps} steps ${worst.toExponential(2)}`);
  for (const [name, expected] of fixture.finalParams) await compareArray(`${name} after ${fixture.adam.steps} steps`, model.weight(name), expected, 1e-4);
  optimizer.release();
  releaseModel(model);
});

test.run();
