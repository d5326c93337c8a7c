import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { banTokens, beamStep, sampleTokens, type SamplingParams } from '../../src/autograd/ops/decoding.js';
import { Tensor } from '../../src/autograd/tensor.js';
import { testGpu } from '../support/engine.js';
import { randomArray } from '../support/random.js';
import { beamChoices, keptDistribution } from '../support/sampling-reference.js';

test.before(async () => {
  await testGpu();
});

const SAMPLE: SamplingParams = { greedy: false, topk: 0, topp: 1, temperature: 1, seed: 1, step: 0 };

async function draw(logits: Float32Array, rows: number, vocab: number, params: Partial<SamplingParams>, streams?: number[]): Promise<number[]> {
  const t = Tensor.fromArray(logits, [rows, vocab]);
  const chosen = sampleTokens(t, streams ?? Array.from({ length: rows }, (_, r) => r), { ...SAMPLE, ...params });
  const ids = Array.from(await chosen.toArray());
  t.release();
  chosen.release();
  return ids;
}

/** `copies` rows holding the same logits. */
function repeated(row: Float32Array, copies: number): Float32Array {
  const out = new Float32Array(row.length * copies);
  for (let c = 0; c < copies; c++) out.set(row, c * row.length);
  return out;
}

// Vocabularies below, at and above the 64 lanes of a row's workgroup, one neither a multiple of 4 nor
// of 64, and the seed one.
for (const vocab of [5, 37, 64, 1000, 4099, 13584]) {
  test(`greedy is the argmax (lowest index on ties) of every row, vocab ${vocab}`, async () => {
    const rows = 6;
    const logits = randomArray(rows * vocab, vocab, 5);
    if (vocab > 4) {
      // Row 1: a tie for the maximum between a late and an early token.
      logits[vocab + vocab - 1] = 9;
      logits[vocab + 2] = 9;
    }
    const ids = await draw(logits, rows, vocab, { greedy: true });
    for (let r = 0; r < rows; r++) {
      const row = logits.subarray(r * vocab, (r + 1) * vocab);
      assert.is(ids[r], row.indexOf(Math.max(...row)), `row ${r}`);
    }
  });

  // Top-k below 8 (with or without top-p) and top-p alone with a small kept set take the one-pass
  // top list; top-k from 8 up and top-p with a large kept set the radix select.
  for (const [topk, topp, temperature] of [[1, 1, 1], [5, 1, 1], [5, 0.6, 1], [0, 0.9, 1], [0, 0.3, 0.2], [7, 1, 1], [8, 0.8, 1], [40, 1, 0.7], [3, 1, 2.5]]) {
    test(`top-k ${topk}, top-p ${topp}, temperature ${temperature}, vocab ${vocab}: every draw lies in the CPU reference's kept set, step by step`, async () => {
      const rows = 16;
      const steps = vocab > 1000 ? 2 : 4;
      for (let step = 0; step < steps; step++) {
        const logits = randomArray(rows * vocab, 100 * vocab + step, 6);
        const ids = await draw(logits, rows, vocab, { topk, topp, temperature, step, seed: 3 });
        for (let r = 0; r < rows; r++) {
          const kept = keptDistribution(logits.subarray(r * vocab, (r + 1) * vocab), { topk, topp, temperature });
          assert.ok(kept.has(ids[r]), `step ${step} row ${r}: drew ${ids[r]}, outside the kept set ${[...kept.keys()].slice(0, 10)}`);
        }
      }
    });
  }
}

// A flat row (large kept sets: radix select) and one with ten favourites (small kept sets: top list).
const FLAT = randomArray(300, 17, 3);
const PEAKED = FLAT.map((x, i) => (i % 29 === 3 ? x + 7 : x));
for (const [name, row, params] of [
  ['top-k 4', FLAT, { topk: 4 }], ['top-k 12', FLAT, { topk: 12 }], ['top-p 0.6', FLAT, { topp: 0.6 }],
  ['top-p 0.6', PEAKED, { topp: 0.6 }], ['top-k 6, top-p 0.7', PEAKED, { topk: 6, topp: 0.7 }],
] as [string, Float32Array, Partial<SamplingParams>][]) {
  test(`draws follow the renormalised ${name} distribution of a ${row === FLAT ? 'flat' : 'peaked'} row (2000 draws)`, async () => {
    const vocab = row.length;
    const copies = 2000;
    const ids = await draw(repeated(row, copies), copies, vocab, params);
    const expected = keptDistribution(row, params);
    const counts = new Map<number, number>();
    for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
    for (const [token, p] of expected) {
      const observed = (counts.get(token) ?? 0) / copies;
      // 4.5 standard deviations of a binomial proportion.
      assert.ok(Math.abs(observed - p) < 4.5 * Math.sqrt((p * (1 - p)) / copies) + 1e-3, `token ${token}: observed ${observed}, expected ${p}`);
    }
    assert.is([...counts.keys()].every((token) => expected.has(token)), true);
  });
}

// Top-k keeps every token tied with the k-th most probable one.
for (const [name, vocab, topk, tied] of [
  ['in the top list', 300, 3, [5, 150, 290]],
  ['more than the top list holds, spread over lanes', 300, 5, Array.from({ length: 12 }, (_, j) => 7 + 24 * j)],
  ['more than the top list holds, in one lane\'s chunk', 13583, 5, Array.from({ length: 12 }, (_, j) => 400 + j)],
  ['from 8 up', 1000, 9, Array.from({ length: 10 }, (_, j) => 13 + 97 * j)],
] as [string, number, number, number[]][]) {
  test(`top-k ${topk} keeps all tokens tied at the threshold: ties ${name}, vocab ${vocab}`, async () => {
    const row = randomArray(vocab, vocab, 1);
    row[vocab - 1] = 4; // one favourite above the ties
    for (const token of tied) row[token] = 2;
    const copies = 600;
    const ids = await draw(repeated(row, copies), copies, vocab, { topk });
    assert.ok(ids.every((id) => id === vocab - 1 || tied.includes(id)), `drew outside the kept set: ${ids.filter((id) => id !== vocab - 1 && !tied.includes(id))}`);
    assert.equal([...new Set(ids)].sort((x, y) => x - y), [...tied, vocab - 1]);
  });
}

test('top-k larger than the tokens left unbanned keeps those tokens', async () => {
  const vocab = 130;
  const rows = 400;
  const open = [3, 64, 129];
  const row = randomArray(vocab, 9, 2);
  const t = Tensor.fromArray(repeated(row, rows), [rows, vocab]);
  banTokens(t, Array.from({ length: rows }, (_, r) => Array.from({ length: vocab }, (_, token) => [r, token] as [number, number]).filter(([, token]) => !open.includes(token))).flat());
  for (const params of [{ topk: 5 }, { topk: 7, topp: 0.99 }, { topk: 40 }, { topp: 0.999 }]) {
    const chosen = sampleTokens(t, Array.from({ length: rows }, (_, r) => r), { ...SAMPLE, ...params });
    const ids = Array.from(await chosen.toArray());
    chosen.release();
    assert.equal([...new Set(ids)].sort((x, y) => x - y), open, JSON.stringify(params));
  }
  t.release();
});

test('top-p keeps up to and including the token where the cumulative probability first reaches p', async () => {
  // Probabilities 0.5, 0.3, 0.15, 0.05 at tokens 3, 0, 2, 1.
  const row = Float32Array.from([0.3, 0.05, 0.15, 0.5], Math.log);
  const copies = 600;
  for (const [topp, expected] of [[0.45, [3]], [0.75, [0, 3]], [0.85, [0, 2, 3]], [0.97, [0, 1, 2, 3]], [1, [0, 1, 2, 3]]] as [number, number[]][]) {
    const ids = await draw(repeated(row, copies), copies, 4, { topp });
    assert.equal([...new Set(ids)].sort(), expected, `top-p ${topp}`);
    assert.equal([...keptDistribution(row, { topp }).keys()].sort(), expected, `CPU reference at top-p ${topp}`);
  }
  // After top-k 2 (0.5 and 0.3, renormalised to 0.625 and 0.375), p 0.6 keeps only the first.
  const ids = await draw(repeated(row, copies), copies, 4, { topk: 2, topp: 0.6 });
  assert.equal([...new Set(ids)], [3]);
});

test('the same seed gives the same draws; another seed or step other draws; a stream is independent of its row', async () => {
  const vocab = 500;
  const rows = 24;
  const logits = randomArray(rows * vocab, 5, 2);
  const a = await draw(logits, rows, vocab, { seed: 11, topk: 50 });
  const b = await draw(logits, rows, vocab, { seed: 11, topk: 50 });
  const c = await draw(logits, rows, vocab, { seed: 12, topk: 50 });
  const d = await draw(logits, rows, vocab, { seed: 11, step: 1, topk: 50 });
  assert.equal(a, b);
  assert.not.equal(a, c);
  assert.not.equal(a, d);
  // Rows reversed with their streams: each stream draws the same token from the same logits.
  const reversed = new Float32Array(rows * vocab);
  for (let r = 0; r < rows; r++) reversed.set(logits.subarray(r * vocab, (r + 1) * vocab), (rows - 1 - r) * vocab);
  const e = await draw(reversed, rows, vocab, { seed: 11, topk: 50 }, Array.from({ length: rows }, (_, r) => rows - 1 - r));
  assert.equal(e.reverse(), a);
});

test('banned tokens are never drawn; a row with every token banned gives -1', async () => {
  const vocab = 70;
  const rows = 3;
  const row = randomArray(vocab, 8, 1);
  row[10] = 50; // the favourite, banned below
  const t = Tensor.fromArray(repeated(row, rows), [rows, vocab]);
  banTokens(t, [[0, 10], [1, 10], ...Array.from({ length: vocab }, (_, token) => [2, token] as [number, number])]);
  for (const params of [{ greedy: true }, { topk: 3 }, { topk: 20 }, { topp: 0.9 }, { topk: 2, topp: 0.5 }, {}]) {
    const chosen = sampleTokens(t, [0, 1, 2], { ...SAMPLE, ...params });
    const ids = Array.from(await chosen.toArray());
    chosen.release();
    assert.ok(ids[0] !== 10 && ids[0] >= 0 && ids[1] !== 10 && ids[1] >= 0, `${JSON.stringify(params)}: ${ids}`);
    assert.is(ids[2], -1, JSON.stringify(params));
  }
  assert.throws(() => banTokens(t, [[3, 0]]), /outside/);
  t.release();
});

// Widths up to 8 take the top list, wider beams the radix select.
for (const [vocab, width, temperature] of [[7, 3, 1], [300, 4, 1], [13584, 5, 0.8], [300, 8, 1], [300, 12, 1], [4099, 9, 1.3]]) {
  test(`beamStep equals the CPU reference: vocab ${vocab}, width ${width}, temperature ${temperature}, groups of 1 and several rows`, async () => {
    // Group 0: one row (a first step), keep `width`; group 1: three rows, keep width - 1; group 2: two rows, keep 1.
    const groups = [{ first: 0, count: 1, keep: width }, { first: 1, count: 3, keep: width - 1 }, { first: 4, count: 2, keep: 1 }];
    const rows = 6;
    const logits = randomArray(rows * vocab, vocab + width, 4);
    logits[2 * vocab + 1] = -Infinity; // banned
    // Row 3: two favourites tied, a later token first.
    logits[3 * vocab + vocab - 1] = 9;
    logits[3 * vocab + 2] = 9;
    const scores = [0, -1.5, -0.25, -3, -2, -2.5];
    const t = Tensor.fromArray(logits, [rows, vocab]);
    const chosen = beamStep(t, scores, groups, width, temperature);
    const out = await chosen.toArray();
    groups.forEach((g, gi) => {
      const expected = beamChoices(
        Array.from({ length: g.count }, (_, r) => logits.subarray((g.first + r) * vocab, (g.first + r + 1) * vocab)),
        scores.slice(g.first, g.first + g.count), g.keep, temperature,
      );
      expected.forEach((e, j) => {
        const at = 3 * (gi * width + j);
        assert.is(out[at], g.first + e.parent, `group ${gi} choice ${j} parent`);
        assert.is(out[at + 1], e.token, `group ${gi} choice ${j} token`);
        assert.ok(Math.abs(out[at + 2] - e.score) < 1e-4 * Math.max(1, Math.abs(e.score)), `group ${gi} choice ${j} score ${out[at + 2]} vs ${e.score}`);
      });
    });
    t.release();
    chosen.release();
  });
}

for (const width of [4, 10]) {
  test(`beamStep keeps a better token of a higher index over ties at the threshold (width ${width})`, async () => {
    const vocab = 300;
    const row = randomArray(vocab, 31, 1);
    for (let token = 0; token < 12; token++) row[token] = 5;
    row[vocab - 1] = 9;
    const t = Tensor.fromArray(row, [1, vocab]);
    const chosen = beamStep(t, [0], [{ first: 0, count: 1, keep: width }], width, 1);
    const out = Array.from(await chosen.toArray());
    const expected = beamChoices([row], [0], width);
    assert.equal(Array.from({ length: width }, (_, j) => out[3 * j + 1]), expected.map((e) => e.token));
    t.release();
    chosen.release();
  });
}

for (const width of [3, 10]) {
  test(`beamStep with fewer candidates than the beam marks the missing ones -1 (width ${width})`, async () => {
    const t = Tensor.fromArray([0.5, 0.1], [1, 2]);
    const chosen = beamStep(t, [0], [{ first: 0, count: 1, keep: 3 }], width, 1);
    const out = Array.from(await chosen.toArray());
    assert.equal([out[1], out[4], out[6], out[7]], [0, 1, -1, -1]);
    t.release();
    chosen.release();
  });
}

test('sampling parameters out of range are refused', async () => {
  const t = Tensor.fromArray([0, 1], [1, 2]);
  assert.throws(() => sampleTokens(t, [0], { ...SAMPLE, topp: 0 }), /top-p/);
  assert.throws(() => sampleTokens(t, [0], { ...SAMPLE, topp: 1.5 }), /top-p/);
  assert.throws(() => sampleTokens(t, [0], { ...SAMPLE, temperature: 0 }), /temperature/);
  assert.throws(() => sampleTokens(t, [0], { ...SAMPLE, topk: -1 }), /top-k/);
  t.release();
});

test.run();
