import { test } from 'uvu';
import { layerNorm, softmax } from '../../src/autograd/ops/normalization.js';
import { Tensor } from '../../src/autograd/tensor.js';
import { setReductionShape, type ReductionShape } from '../../src/kernels/reduction-shape.js';
import { assertClose } from '../support/compare.js';
import { checkGradients, checkGradientsAgainstReference, reportWorst } from '../support/check-op.js';
import { testGpu } from '../support/engine.js';
import { forEachForced } from '../support/forced.js';
import { randomArray } from '../support/random.js';
import * as ref from '../support/reference.js';

test.before(async () => {
  await testGpu();
});

const SHAPES: ReductionShape[] = ['invocation', 'workgroup'];

/** Runs `body` once per reduction shape, forcing it, and restores the per-adapter choice. */
const forEachShape = (body: (shape: ReductionShape) => Promise<void>) => forEachForced(SHAPES, setReductionShape, body);

// LayerNorm reads rows of cols % 4 == 0 as vec4s, other rows as f32s: shapes of both kinds, with
// more than one workgroup of rows (129, 67) and of parameter columns (65 f32s, 66 vec4s); rows of
// fewer columns than a workgroup's 64 lanes, of 65 (one lane takes two) and of 275 vec4s (some
// lanes take five, the others four).
for (const [rows, cols] of [[1, 1], [7, 13], [129, 65], [1, 4], [129, 128], [3, 768], [2, 1100]]) {
  test(`layerNorm ${rows}x${cols} matches the CPU (eps 1e-12 and 1e-3; both reduction shapes)`, async () => {
    const x = randomArray(rows * cols, rows, 3);
    const gamma = randomArray(cols, 2);
    const beta = randomArray(cols, 3);
    const [tx, tg, tb] = [Tensor.fromArray(x, [rows, cols]), Tensor.fromArray(gamma, [cols]), Tensor.fromArray(beta, [cols])];
    await forEachShape(async (shape) => {
      for (const eps of [1e-12, 1e-3]) {
        const out = layerNorm(tx, tg, tb, eps);
        assertClose(await out.toArray(), ref.layerNorm(x, gamma, beta, rows, cols, eps), `layerNorm eps ${eps} (${shape})`, { rtol: 1e-5, atol: 1e-5 });
        out.release();
      }
    });
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

test('layerNorm gradients (both reduction shapes)', async () => {
  await forEachShape(async () => {
    for (const [rows, cols] of [[1, 5], [7, 13], [3, 4, 9], [1, 4], [7, 12], [3, 4, 8]].map((s) => [s.slice(0, -1).reduce((p, d) => p * d, 1), s[s.length - 1]])) {
      await checkGradients('layerNorm', [[rows, cols], [cols], [cols]], ([x, g, b]) => layerNorm(x, g, b, 1e-5));
    }
  });
});

// 67 rows: more than the 'workgroup' column sums' 16 row lanes, with a tail; 65 f32 and 66 vec4
// columns: several of its 16-column workgroups, the last one part empty.
test('layerNorm gradient against float64 reference (both reduction shapes)', async () => {
  await forEachShape(async () => {
    for (const [rows, cols] of [[5, 11], [67, 5], [3, 65], [5, 12], [67, 8], [3, 264], [20, 130]]) {
      await checkGradientsAgainstReference(
        'layerNorm',
        [[rows, cols], [cols], [cols]],
        ([x, g, b]) => layerNorm(x, g, b, 1e-12),
        ([x, g, b]) => ref.layerNorm(x, g, b, rows, cols, 1e-12),
        { tolerance: 2e-5 },
      );
    }
  });
});

test('layerNorm over more rows than one grid dimension holds (the workgroup shape spreads them over y)', async () => {
  const rows = 65537;
  const x = randomArray(rows * 2, 9, 3);
  const gamma = randomArray(2, 2);
  const beta = randomArray(2, 3);
  const [tx, tg, tb] = [Tensor.fromArray(x, [rows, 2]), Tensor.fromArray(gamma, [2]), Tensor.fromArray(beta, [2])];
  await forEachForced(['workgroup'] as const, setReductionShape, async () => {
    const out = layerNorm(tx, tg, tb, 1e-3);
    assertClose(await out.toArray(), ref.layerNorm(x, gamma, beta, rows, 2, 1e-3), 'layerNorm', { rtol: 1e-5, atol: 1e-5 });
    out.release();
  });
  for (const t of [tx, tg, tb]) t.release();
});

test('softmax gradients', async () => {
  for (const shape of [[1, 1], [7, 13], [2, 3, 17]]) await checkGradients('softmax', [shape], ([x]) => softmax(x), { scale: 3, step: 3e-3 });
  await checkGradientsAgainstReference('softmax', [[6, 9]], ([x]) => softmax(x), ([x]) => ref.softmax(x, 6, 9), { tolerance: 1e-5 });
});

test.after(() => reportWorst());
test.run();
