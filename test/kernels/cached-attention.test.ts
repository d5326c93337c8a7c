import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cachedAttention, copyInto, scatterRows, type CachedRow } from '../../src/autograd/ops/decoding.js';
import { Tensor } from '../../src/autograd/tensor.js';
import { setCachedAttentionVariant, type CachedAttentionVariant } from '../../src/kernels/cached-attention.js';
import { fixedSubgroupSize } from '../../src/kernels/common.js';
import { assertClose } from '../support/compare.js';
import { testGpu } from '../support/engine.js';
import { forEachForced } from '../support/forced.js';
import { randomArray } from '../support/random.js';

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

// [heads, head size, source lengths of the inputs, rows per input, generated keys per row, rows interleaved across inputs]
// Head sizes: f32 chunks (1, 5), fewer vec4 chunks than a subgroup has lanes (8), a partial last
// round of lanes (40: 10 chunks), whole rounds (64). Rows per input below, above and between
// multiples of a group; interleaved rows make groups of one row.
const CASES: [number, number, number[], number, number, boolean][] = [
  [1, 1, [1], 1, 1, false],
  [3, 5, [7, 2, 13], 2, 4, false],
  [2, 64, [9, 1], 3, 6, false],
  [4, 8, [33], 5, 1, false],
  [2, 40, [5, 3], 11, 3, false],
  [3, 64, [70], 17, 2, false],
  [2, 12, [4, 6, 2], 3, 5, true],
];

/** The versions this adapter can run. */
const variants: CachedAttentionVariant[] = ['rows'];

test.before(async () => {
  if (fixedSubgroupSize(await testGpu()) > 0) variants.push('subgroup');
});

for (const [heads, headDim, sources, perInput, genLen, interleaved] of CASES) {
  test(`cachedAttention ${heads} heads of ${headDim}, sources ${sources}, ${perInput} rows each${interleaved ? ' interleaved' : ''}, ${genLen} generated keys matches float64 in every version`, async () => {
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
    const starts = sources.map((_, input) => sources.slice(0, input).reduce((a, b) => a + b, 0));
    const rows: CachedRow[] = [];
    const keys: { k: Float32Array; v: Float32Array; row: number }[][] = [];
    for (let r = 0; r < rowCount; r++) {
      const input = interleaved ? r % sources.length : Math.floor(r / perInput);
      const [start, srcLen] = [starts[input], sources[input]];
      // Slots in reverse order, so row r does not read slot r.
      const slot = slots - 1 - r;
      rows.push({ srcStart: start, srcLen, genStart: slot * maxGen });
      keys.push([
        ...Array.from({ length: srcLen }, (_, t) => ({ k: srcK, v: srcV, row: start + t })),
        ...Array.from({ length: genLen }, (_, t) => ({ k: genK, v: genV, row: slot * maxGen + t })),
      ]);
    }
    const cache = {
      srcK: Tensor.fromArray(srcK, [sourceRows, hidden]),
      srcV: Tensor.fromArray(srcV, [sourceRows, hidden]),
      genK: Tensor.fromArray(genK, [slots * maxGen, hidden]),
      genV: Tensor.fromArray(genV, [slots * maxGen, hidden]),
    };
    const qt = Tensor.fromArray(q, [rowCount, hidden]);
    const expected = reference(q, keys, heads, hidden);
    await forEachForced(variants, setCachedAttentionVariant, async (variant) => {
      const out = cachedAttention(qt, cache, rows, heads, genLen);
      assertClose(await out.toArray(), expected, `cachedAttention (${variant})`, { rtol: 1e-5, atol: 1e-5 });
      out.release();
    });
    for (const t of [qt, ...Object.values(cache)]) t.release();
  });
}

test('cachedAttention refuses a row that reads past the cache', async () => {
  const cache = { srcK: Tensor.zeros([3, 4]), srcV: Tensor.zeros([3, 4]), genK: Tensor.zeros([4, 4]), genV: Tensor.zeros([4, 4]) };
  const q = Tensor.zeros([1, 4]);
  assert.throws(() => cachedAttention(q, cache, [{ srcStart: 1, srcLen: 3, genStart: 0 }], 2, 1), /past the cache/);
  assert.throws(() => cachedAttention(q, cache, [{ srcStart: 0, srcLen: 3, genStart: 2 }], 2, 3), /past the cache/);
  for (const t of [q, ...Object.values(cache)]) t.release();
});

for (const width of [5, 8]) {
  test(`scatterRows writes each row at its target and leaves the others (width ${width}); copyInto copies at an offset`, async () => {
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
}

test('scatterRows of more rows than one dispatch dimension holds (65535) writes them all', async () => {
  const rows = 65537;
  const width = 4;
  const src = Tensor.fromArray(Float32Array.from({ length: rows * width }, (_, i) => i), [rows, width]);
  const dst = Tensor.zeros([rows, width]);
  const targets = Array.from({ length: rows }, (_, r) => rows - 1 - r);
  scatterRows(src, dst, targets);
  const got = await dst.toArray();
  const expected = new Float32Array(rows * width);
  targets.forEach((target, r) => expected.set([0, 1, 2, 3].map((e) => r * width + e), target * width));
  assert.ok(got.every((x, i) => x === expected[i]), 'every row lands at its target');
  for (const t of [src, dst]) t.release();
});

test.run();
