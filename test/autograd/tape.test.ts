import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { add } from '../../src/autograd/ops/elementwise.js';
import { embedding } from '../../src/autograd/ops/embedding.js';
import { linear } from '../../src/autograd/ops/matmul.js';
import { sum } from '../../src/autograd/ops/reduce.js';
import { backward } from '../../src/autograd/tape.js';
import { Tensor } from '../../src/autograd/tensor.js';
import { checkGradients, reportWorst } from '../support/check-op.js';
import { assertClose } from '../support/compare.js';
import { testGpu } from '../support/engine.js';
import { randomArray } from '../support/random.js';

test.before(async () => {
  await testGpu();
});

// A table used twice, as SimBERT ties its token embeddings to the MLM output layer. Backward
// meets the two uses in either order: the embedding's scatter-add then adds into the gradient
// the output layer made (in place), or comes first and the output layer's gradient is added.
const IDS = [3, 0, 3, 5, 1];
const [ROWS, COLS] = [6, 4];

test('a table tied between an embedding and an output layer: both gradients, in either order', async () => {
  await checkGradients('tied table, embedding first', [[ROWS, COLS]], ([table]) => linear(embedding(table, IDS, [IDS.length]), table, undefined, 'none', true));
  await checkGradients('tied table, output layer first', [[ROWS, COLS], [IDS.length, COLS]], ([table, x]) => {
    const logits = linear(x, table, undefined, 'none', true);
    return add(linear(logits, table), embedding(table, IDS, [IDS.length]));
  });
});

test('gradients of a leaf accumulate over backward calls, also where a backward adds in place', async () => {
  const table = Tensor.fromArray(randomArray(ROWS * COLS, 3), [ROWS, COLS], { requiresGrad: true, label: 'table' });
  const pass = () => backward(sum(linear(embedding(table, IDS, [IDS.length]), table, undefined, 'none', true)));
  pass();
  const once = await table.grad!.toArray();
  pass();
  assertClose(await table.grad!.toArray(), once.map((g) => 2 * g), 'two passes', { rtol: 1e-6, atol: 1e-6 });
  assert.ok(once.some((g) => g !== 0));
  table.grad!.release();
  table.release();
});

test.after(() => reportWorst());
test.run();
