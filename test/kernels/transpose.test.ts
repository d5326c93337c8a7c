import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { transpose } from '../../src/autograd/ops/shape.js';
import { Tensor } from '../../src/autograd/tensor.js';
import { checkGradients, reportWorst } from '../support/check-op.js';
import { testGpu } from '../support/engine.js';
import { randomArray } from '../support/random.js';

test.before(async () => {
  await testGpu();
});

for (const [rows, cols] of [[1, 1], [1, 7], [5, 1], [3, 5], [13, 66], [64, 65], [129, 3], [4, 4], [8, 12], [36, 20], [260, 4]]) {
  test(`transpose of [${rows}, ${cols}] moves every element to its place`, async () => {
    const values = randomArray(rows * cols, rows * 100 + cols);
    const x = Tensor.fromArray(values, [rows, cols]);
    const out = transpose(x);
    assert.equal(out.shape, [cols, rows]);
    const result = await out.toArray();
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) assert.is(result[c * rows + r], values[r * cols + c], `element (${r}, ${c})`);
    }
    x.release();
    out.release();
  });
}

test('transpose refuses a tensor that is not a matrix', () => {
  const x = Tensor.zeros([2, 3, 4]);
  assert.throws(() => transpose(x), /not a matrix/);
  x.release();
});

test('gradient of transpose', async () => {
  for (const shape of [[1, 4], [7, 13], [6, 3], [8, 12]]) await checkGradients('transpose', [shape], ([x]) => transpose(x));
});

test.after(() => reportWorst());
test.run();
