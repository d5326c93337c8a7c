import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { noGrad } from '../../src/autograd/tape.js';
import { scope, Tensor } from '../../src/autograd/tensor.js';
import { SimBert, type BertBatch } from '../../src/model/bert.js';
import { parseBertConfig } from '../../src/model/config.js';
import { convertForInference, inferenceModel } from '../../src/model/inference.js';
import { randomWeightArrays, uploadWeights } from '../../src/model/parameters.js';
import { runnableMatmulVariants, setMatmulVariant } from '../../src/kernels/matmul.js';
import { train, type TrainRun } from '../../src/train/trainer.js';
import { assertClose } from '../support/compare.js';
import { testGpu } from '../support/engine.js';

// Awkward sizes: a hidden size of 12 (3 heads of 4) and an intermediate size of 30, whose kernels are
// transposed element by element, besides the 4 x 4 blocks of the 12 x 12 ones.
const config = parseBertConfig({
  vocab_size: 23, hidden_size: 12, num_hidden_layers: 2, num_attention_heads: 3, intermediate_size: 30,
  max_position_embeddings: 16, type_vocab_size: 2, initializer_range: 0.3,
}, 'inference test config');
const MEMORY_LIMIT = 64 * 1024 ** 2;
const batch: BertBatch = {
  batch: 2, seqLen: 5, tokenIds: [2, 7, 9, 11, 3, 2, 5, 3, 0, 0], segmentIds: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
};

// The transposed layout is for the texture matmul; other versions keep TensorFlow's.
test.before(async () => {
  const gpu = await testGpu({ memoryLimit: MEMORY_LIMIT });
  if (!runnableMatmulVariants(gpu).includes('texture')) throw new Error('this adapter cannot run the texture matmul these tests need');
  setMatmulVariant('texture');
});

test.after(() => setMatmulVariant(null));

function freshModel(): SimBert {
  return new SimBert(config, uploadWeights(config, randomWeightArrays(config, 11)));
}

/** Pooled vectors and the MLM logits of every position. */
async function outputs(model: SimBert): Promise<{ pooled: Float32Array; logits: Float32Array }> {
  const [pooled, logits] = noGrad(() => scope(() => {
    const encoded = model.encode(batch, { training: false });
    return [encoded.pooled, model.mlmLogits(encoded.sequence)] as const;
  }));
  const result = { pooled: await pooled.toArray(), logits: await logits.toArray() };
  pooled.release();
  logits.release();
  return result;
}

function releaseAll(model: SimBert): void {
  for (const weight of model.weights.values()) weight.release();
}

test('an inference view computes what the model computes, shares all but the dense kernels, and releases only its copies', async () => {
  const model = freshModel();
  const expected = await outputs(model);
  const view = inferenceModel(model);
  assert.ok(view.model.transposedKernels);
  const actual = await outputs(view.model);
  assertClose(actual.pooled, expected.pooled, 'pooled', { rtol: 1e-5, atol: 1e-6 });
  assertClose(actual.logits, expected.logits, 'logits', { rtol: 1e-5, atol: 1e-6 });
  const kernel = 'bert/encoder/layer_1/intermediate/dense/kernel';
  assert.equal(view.model.weight(kernel).shape, [30, 12]);
  assert.is(view.model.weight('bert/embeddings/word_embeddings'), model.weight('bert/embeddings/word_embeddings'));
  assert.is(inferenceModel(view.model).model, view.model, 'a view of a view is itself');
  view.release();
  assertClose((await outputs(model)).pooled, expected.pooled, 'the model after the view is released', { rtol: 0, atol: 0 });
  releaseAll(model);
});

test('convertForInference gives the same outputs and holds no second copy of the kernels', async () => {
  const gpu = await testGpu();
  const model = freshModel();
  const expected = await outputs(model);
  const before = gpu.pool.snapshot().bytesInUse;
  const converted = convertForInference(model);
  assert.is(gpu.pool.snapshot().bytesInUse, before);
  assertClose((await outputs(converted)).logits, expected.logits, 'logits', { rtol: 1e-5, atol: 1e-6 });
  assert.is(convertForInference(converted), converted);
  let refusal = '';
  try {
    await train({ model: converted } as unknown as TrainRun);
  } catch (error) {
    refusal = (error as Error).message;
  }
  assert.match(refusal, /TensorFlow's layout/, 'train refuses a converted model');
  releaseAll(converted);
});

test('without room under the memory cap for the copies, the view is the model itself', async () => {
  const gpu = await testGpu();
  const model = freshModel();
  const expected = await outputs(model);
  // Fill the cap: halves of what is left, down to a piece smaller than one copied kernel (1.5 KiB).
  const fillers: Tensor[] = [];
  let piece = (gpu.pool.capBytes - gpu.pool.snapshot().bytesHeld) / 2;
  while (piece >= 256) {
    try {
      fillers.push(Tensor.empty([Math.floor(piece / 4)], 'filler'));
    } catch {
      piece /= 2;
    }
  }
  const view = inferenceModel(model);
  assert.is(view.model, model);
  view.release();
  for (const filler of fillers) filler.release();
  assertClose((await outputs(model)).pooled, expected.pooled, 'pooled', { rtol: 0, atol: 0 });
  releaseAll(model);
});

test('with a matmul version that prefers the TensorFlow layout, the model is used as it is', async () => {
  const model = freshModel();
  setMatmulVariant('tiled');
  try {
    const view = inferenceModel(model);
    assert.is(view.model, model);
    view.release();
    assert.is(convertForInference(model), model);
  } finally {
    setMatmulVariant('texture');
  }
  releaseAll(model);
});

test.run();
