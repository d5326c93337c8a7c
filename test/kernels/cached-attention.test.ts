import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cachedAttention, copyInto, scatterRows, type CachedRow } from '../../src/autograd/ops/decoding.js';
import { Tensor } from '../../src/autograd/tensor.js';
import { assertClose } from '../support/compare.js';
import { testGpu } from '../support/engine.js';
import { randomArray } from '../support/random.js';

test.before(async () => {
  await testGpu();
});

/** float64 attention of one query row over the listed key rows of (k, v) pairs. */
function reference(q: Float32Array, keys: { k: Float32Array; v: Float32Array; row: number }[][], heads: number, hidden: number): Float64Array {
  const d = hidden / heads;
  const out = new Float64Array(q.length);
  keys.forEach((rowKeys, r) => {
    for (let h = 0; h < heads; h++) {
      const scores = rowKeys.map(({ k, row }) => {
        let s = 0;
        for (let e = 0; e < d; e++) s += q[r * hidden + h * d + e] * k[row * hidden + h * d + e];
        return s / Math.sqrt(d);
      });
      const top = Math.max(...scores);
      const weights = scores.map((s) => Math.exp(s - top));
      const total = weights.reduce((a, b) => a + b, 0);
      for (let e = 0; e < d; e++) {
        let acc = 0;
        rowKeys.forEach(({ v, row }, j) => (acc += weights[j] * v[row * hidden + h * d + e]));
        out[r * hidden + h * d + e] = acc / total;
      }
    }
  });
  return out;
}

// [heads, head size, source lengths of the inputs, rows per input, generated keys per row]
const CASES: [number, number, number[], number, number][] = [
  [1, 1, [1], 1, 1],
  [3, 5, [7, 2, 13], 2, 4],
  [2, 64, [9, 1], 3, 6],
  [4, 8, [33], 5, 1],
];

for (const [heads, headDim, sources, perInput, genLen] of CASES) {
  test(`cachedAttention ${heads} heads of ${headDim}, sources ${sources}, ${perInput} rows each, ${genLen} generated keys matches float64`, async () => {
    const hidden = heads * headDim;
    const sourceRows = sources.reduce((a, b) => a + b, 0);
    const rowCount = sources.length * perInput;
    const maxGen = genLen + 2; // slots longer than what is used: the kernel must stop at genLen
    const slots = rowCount + 1;
    const srcK = randomArray(sourceRows * hidden, 1, 2);
    const srcV = randomArray(sourceRows * hidden, 2);
    const genK = randomArray(slots * maxGen * hidden, 3, 2);
    const genV = randomArray(slots * maxGen * hidden, 4);
    const q = randomArray(rowCount * hidden, 5, 2);
    const rows: CachedRow[] = [];
    const keys: { k: Float32Array; v: Float32Array; row: number }[][] = [];
    let start = 0;
    sources.forEach((srcLen, input) => {
      for (let j = 0; j < perInput; j++) {
        // Slots in reverse order, so row r does not read slot r.
        const slot = slots - 1 - (input * perInput + j);
        rows.push({ srcStart: start, srcLen, genStart: slot * maxGen });
        keys.push([
          ...Array.from({ length: srcLen }, (_, t) => ({ k: srcK, v: srcV, row: start + t })),
          ...Array.from({ length: genLen }, (_, t) => ({ k: genK, v: genV, row: slot * maxGen + t })),
        ]);
      }
      start += srcLen;
    });
    const cache = {
      srcK: Tensor.fromArray(srcK, [sourceRows, hidden]),
      srcV: Tensor.fromArray(srcV, [sourceRows, hidden]),
      genK: Tensor.fromArray(genK, [slots * maxGen, hidden]),
      genV: Tensor.fromArray(genV, [slots * maxGen, hidden]),
    };
    const qt = Tensor.fromArray(q, [rowCount, hidden]);
    const out = cachedAttention(qt, cache, rows, heads, genLen);
    assertClose(await out.toArray(), reference(q, keys, heads, hidden), 'cachedAttention', { rtol: 1e-5, atol: 1e-5 });
    for (const t of [qt, out, ...Object.values(cache)]) t.release();
  });
}

test('cachedAttention refuses a row that reads past the cache', async () => {
  const cache = { srcK: Tensor.zeros([3, 4]), srcV: Tensor.zeros([3, 4]), genK: Tensor.zeros([4, 4]), genV: Tensor.zeros([4, 4]) };
  const q = Tensor.zeros([1, 4]);
  assert.throws(() => cachedAttention(q, cache, [{ srcStart: 1, srcLen: 3, genStart: 0 }], 2, 1), /past the cache/);
  assert.throws(() => cachedAttention(q, cache, [{ srcStart: 0, srcLen: 3, genStart: 2 }], 2, 3), /past the cache/);
  for (const t of [q, ...Object.values(cache)]) t.release();
});

test('scatterRows writes each row at its target and leaves the others; copyInto copies at an offset', async () => {
  const width = 5;
  const src = Tensor.fromArray(randomArray(3 * width, 9), [3, width]);
  const dst = Tensor.zeros([7, width]);
  scatterRows(src, dst, [6, 0, 3]);
  const got = await dst.toArray();
  const values = await src.toArray();
  const expected = new Float32Array(7 * width);
  [6, 0, 3].forEach((target, r) => expected.set(values.subarray(r * width, (r + 1) * width), target * width));
  assert.equal(Array.from(got), Array.from(expected));
  copyInto(src, dst, 2 * width + 1);
  const copied = await dst.toArray();
  assert.equal(Array.from(copied.subarray(2 * width + 1, 2 * width + 1 + 3 * width)), Array.from(values));
  assert.throws(() => scatterRows(src, dst, [7, 0, 1]), /outside/);
  assert.throws(() => copyInto(src, dst, 5 * width), /overruns/);
  for (const t of [src, dst]) t.release();
});

test.run();
