import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { activeGpu } from '../../src/autograd/engine.js';
import { embedding } from '../../src/autograd/ops/embedding.js';
import { mean, sum } from '../../src/autograd/ops/reduce.js';
import { backward } from '../../src/autograd/tape.js';
import { Tensor } from '../../src/autograd/tensor.js';
import { embeddingScatterAdd, groupIds } from '../../src/kernels/embedding.js';
import { sumRows } from '../../src/kernels/reduce.js';
import { setReductionShape } from '../../src/kernels/reduction-shape.js';
import { assertClose } from '../support/compare.js';
import { checkGradients, reportWorst } from '../support/check-op.js';
import { testGpu } from '../support/engine.js';
import { forEachForced } from '../support/forced.js';
import { randomArray, randomInts } from '../support/random.js';
import * as ref from '../support/reference.js';

test.before(async () => {
  await testGpu();
});

for (const size of [1, 7 * 13, 129 * 65, 100_003]) {
  test(`sum and mean of ${size} elements match float64`, async () => {
    const x = randomArray(size, size);
    const tx = Tensor.fromArray(x, [size]);
    const total = x.reduce((s, v) => s + v, 0);
    const [s, m] = [sum(tx), mean(tx)];
    assertClose([await s.item()], [total], 'sum', { rtol: 1e-5, atol: 1e-5 * Math.sqrt(size) });
    assertClose([await m.item()], [total / size], 'mean', { rtol: 1e-5, atol: 1e-6 });
    for (const t of [tx, s, m]) t.release();
  });
}

test('sum and mean gradients', async () => {
  for (const shape of [[1], [7, 13], [3, 5, 2]]) {
    await checkGradients('sum', [shape], ([x]) => sum(x));
    await checkGradients('mean', [shape], ([x]) => mean(x));
  }
});

// Column counts divisible by 4 take the kernel summing four columns per invocation. For the
// 'workgroup' shape (16 columns by 16 row lanes): rows fewer than and past its lanes, 70 f32 and
// 18 vec4 columns (a part-empty last workgroup).
for (const [rows, cols] of [[1, 1], [5, 3], [7, 8], [300, 64], [3, 13], [4, 6], [33, 70], [17, 72]]) {
  test(`column sums of ${rows}x${cols}, set and accumulated, match float64 (both reduction shapes)`, async () => {
    const gpu = activeGpu();
    const x = randomArray(rows * cols, rows + cols);
    const initial = randomArray(cols, 7);
    const columnSums = Array.from({ length: cols }, (_, c) => x.reduce((s, v, i) => (i % cols === c ? s + v : s), 0));
    const tx = Tensor.fromArray(x, [rows, cols]);
    const tolerance = { rtol: 1e-5, atol: 1e-6 * Math.sqrt(rows) };
    await forEachForced(['invocation', 'workgroup'] as const, setReductionShape, async (shape) => {
      const out = Tensor.fromArray(initial, [cols]);
      sumRows(gpu, tx.buffer, out.buffer, rows, cols, true);
      assertClose(await out.toArray(), columnSums.map((s, c) => s + initial[c]), `accumulated (${shape})`, tolerance);
      sumRows(gpu, tx.buffer, out.buffer, rows, cols);
      assertClose(await out.toArray(), columnSums, `set (${shape})`, tolerance);
      out.release();
    });
    tx.release();
  });
}

// Column counts divisible by 4 take the kernels moving four columns per invocation.
for (const [rows, cols, count] of [[1, 1, 1], [13, 7, 29], [300, 65, 129], [9, 6, 11], [1, 4, 3], [50, 8, 40], [40, 128, 70]]) {
  test(`embedding gather ${count} ids from ${rows}x${cols} and its scatter-add backward match the CPU`, async () => {
    const table = randomArray(rows * cols, rows);
    const ids = randomInts(count, rows, count);
    if (count > 2) ids[1] = ids[0]; // repeated ids must accumulate
    const dy = randomArray(count * cols, 5);
    const tTable = Tensor.fromArray(table, [rows, cols], { requiresGrad: true });
    const out = embedding(tTable, ids, [count]);
    assertClose(await out.toArray(), ref.embeddingGather(table, ids, cols), 'gather', { rtol: 0, atol: 0 });
    const seed = Tensor.fromArray(dy, [count, cols]);
    backward(out, seed);
    const scattered = ref.embeddingScatterAdd(dy, ids, rows, cols);
    assertClose(await tTable.grad!.toArray(), scattered, 'scatter-add', { rtol: 1e-6, atol: 1e-6 });
    // Into an existing gradient (a tied output layer made one) the rows add to what is there.
    const gpu = activeGpu();
    const existing = Tensor.fromArray(table, [rows, cols]);
    const groups = groupIds(ids);
    const [rowIds, offsets, positions] = [groups.rowIds, groups.offsets, groups.positions].map((a) => gpu.upload(a, 'test.groups'));
    embeddingScatterAdd(gpu, seed.buffer, { rowIds, offsets, positions, count: groups.rowIds.length }, existing.buffer, cols);
    assertClose(await existing.toArray(), scattered.map((v, i) => v + table[i]), 'scatter-add into a gradient', { rtol: 1e-6, atol: 1e-6 });
    for (const buffer of [rowIds, offsets, positions]) gpu.release(buffer);
    for (const t of [tTable.grad!, tTable, out, seed, existing]) t.release();
  });
}

test('embedding gradient check and id validation', async () => {
  const ids = [3, 0, 3, 2, 3];
  await checkGradients('embedding', [[4, 6]], ([table]) => embedding(table, ids, [5]));
  const table = Tensor.zeros([4, 6]);
  assert.throws(() => embedding(table, [4], [1]), /outside the table of 4 rows/);
  assert.throws(() => embedding(table, [1, 2], [3]), /2 ids for shape/);
  table.release();
});

test.after(() => reportWorst());
test.run();
