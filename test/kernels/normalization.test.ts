import { test } from 'uvu';
import { layerNorm, softmax } from '../../src/autograd/ops/normalization.js';
import { Tensor } from '../../src/autograd/tensor.js';
import { assertClose } from '../support/compare.js';
import { checkGradients, checkGradientsAgainstReference, reportWorst } from '../support/check-op.js';
import { testGpu } from '../support/engine.js';
import { randomArray } from '../support/random.js';
import * as ref from '../support/reference.js';

test.before(async () => {
  await testGpu();
});

// LayerNorm reads rows of cols % 4 == 0 as vec4s, other rows as f32s: shapes of both kinds, with
// more than one workgroup of rows (129, 67) and of parameter columns (65 f32s, 66 vec4s).
for (const [rows, cols] of [[1, 1], [7, 13], [129, 65], [1, 4], [129, 128], [3, 768]]) {
  test(`layerNorm ${rows}x${cols} matches the CPU (eps 1e-12 and 1e-3)`, async () => {
    const x = randomArray(rows * cols, rows, 3);
    const gamma = randomArray(cols, 2);
    const beta = randomArray(cols, 3);
    const [tx, tg, tb] = [Tensor.fromArray(x, [rows, cols]), Tensor.fromArray(gamma, [cols]), Tensor.fromArray(beta, [cols])];
    for (const eps of [1e-12, 1e-3]) {
      const out = layerNorm(tx, tg, tb, eps);
      assertClose(await out.toArray(), ref.layerNorm(x, gamma, beta, rows, cols, eps), `layerNorm eps ${eps}`, { rtol: 1e-5, atol: 1e-5 });
      out.release();
    }
    for (const t of [tx, tg, tb]) t.release();
  });

  test(`softmax ${rows}x${cols} matches the CPU, also with large logits`, async () => {
    const x = randomArray(rows * cols, rows + 1, 30);
    const tx = Tensor.fromArray(x, [rows, cols]);
    const out = softmax(tx);
    assertClose(await out.toArray(), ref.softmax(x, rows, cols), 'softmax', { rtol: 1e-5, atol: 1e-7 });
    for (const t of [tx, out]) t.release();
  });
}

test('layerNorm gradients', async () => {
  for (const [rows, cols] of [[1, 5], [7, 13], [3, 4, 9], [1, 4], [7, 12], [3, 4, 8]].map((s) => [s.slice(0, -1).reduce((p, d) => p * d, 1), s[s.length - 1]])) {
    await checkGradients('layerNorm', [[rows, cols], [cols], [cols]], ([x, g, b]) => layerNorm(x, g, b, 1e-5));
  }
});

test('layerNorm gradient against float64 reference', async () => {
  for (const [rows, cols] of [[5, 11], [67, 5], [3, 65], [5, 12], [67, 8], [3, 264]]) {
    await checkGradientsAgainstReference(
      'layerNorm',
      [[rows, cols], [cols], [cols]],
      ([x, g, b]) => layerNorm(x, g, b, 1e-12),
      ([x, g, b]) => ref.layerNorm(x, g, b, rows, cols, 1e-12),
      { tolerance: 2e-5 },
    );
  }
});

test('softmax gradients', async () => {
  for (const shape of [[1, 1], [7, 13], [2, 3, 17]]) await checkGradients('softmax', [shape], ([x]) => softmax(x), { scale: 3, step: 3e-3 });
  await checkGradientsAgainstReference('softmax', [[6, 9]], ([x]) => softmax(x), ([x]) => ref.softmax(x, 6, 9), { tolerance: 1e-5 });
});

test.after(() => reportWorst());
test.run();
