import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { unilmAttention, type AttentionMask } from '../../src/autograd/ops/attention.js';
import { Tensor } from '../../src/autograd/tensor.js';
import { attentionVariant, setAttentionVariant, type AttentionVariant } from '../../src/kernels/attention.js';
import { assertClose, maxRelativeError } from '../support/compare.js';
import { checkGradients, checkGradientsAgainstReference, reportWorst } from '../support/check-op.js';
import { testGpu } from '../support/engine.js';
import { forEachForced } from '../support/forced.js';
import { randomArray } from '../support/random.js';
import * as ref from '../support/reference.js';

let variants: AttentionVariant[] = [];

test.before(async () => {
  const gpu = await testGpu();
  // Every kernel version this adapter runs (the subgroup one needs the feature), each forced in turn.
  variants = (['rows', 'subgroup'] as AttentionVariant[]).filter((variant) => {
    setAttentionVariant(variant);
    try {
      attentionVariant(gpu);
      return true;
    } catch {
      console.log(`skipped: attention variant ${variant} on this adapter`);
      return false;
    } finally {
      setAttentionVariant(null);
    }
  });
});

const forEachVariant = (body: (variant: AttentionVariant) => Promise<void>) => forEachForced(variants, setAttentionVariant, body);

/**
 * A mask from per-row layouts [first text, second text]: `[CLS] a [SEP]` in segment 0, `b [SEP]`
 * in segment 1 (when b > 0), then padding (token 0, segment 0) up to seqLen.
 */
function makeMask(seqLen: number, rows: [number, number][]): AttentionMask {
  const tokenIds: number[] = [];
  const segmentIds: number[] = [];
  rows.forEach(([a, b], r) => {
    for (let t = 0; t < seqLen; t++) {
      const real = t < a + b;
      tokenIds.push(real ? 100 + ((t * 7 + r) % 50) : 0);
      segmentIds.push(real && t >= a ? 1 : 0);
    }
  });
  return { batch: rows.length, seqLen, tokenIds, segmentIds };
}

interface Case {
  name: string;
  heads: number;
  hidden: number;
  mask: AttentionMask;
  dropout?: { rate: number; seed: number };
}

const CASES: Case[] = [
  { name: 'two segments with padding, 3 heads of 5, 7 tokens', heads: 3, hidden: 15, mask: makeMask(7, [[3, 2], [2, 5], [4, 0]]) },
  { name: 'one segment (bidirectional), 2 heads of 4', heads: 2, hidden: 8, mask: makeMask(5, [[5, 0]]) },
  { name: 'a row of padding only (zeros out), 1 head of 3', heads: 1, hidden: 3, mask: makeMask(4, [[0, 0], [2, 2]]) },
  { name: 'head 64, 130 tokens, padding', heads: 2, hidden: 128, mask: makeMask(130, [[60, 50], [129, 0]]) },
  { name: 'dropout 0.3 on probabilities', heads: 3, hidden: 15, mask: makeMask(9, [[4, 5], [3, 3]]), dropout: { rate: 0.3, seed: 17 } },
  { name: 'seqLen 512, head 64', heads: 1, hidden: 64, mask: makeMask(512, [[300, 200]]) },
  // The subgroup version loads vec4s when the head size is a multiple of 4, else f32s; lanes take
  // loads in turn, the last turn partial here (subgroup size 8).
  { name: 'head 18 (f32 loads, 3 turns), padding', heads: 2, hidden: 36, mask: makeMask(11, [[5, 4], [7, 4]]) },
  { name: 'head 36 (vec4 loads, 2 turns), padding, dropout', heads: 2, hidden: 72, mask: makeMask(11, [[5, 4], [7, 4]]), dropout: { rate: 0.2, seed: 9 } },
];

function referenceOf(c: Case, q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>): Float64Array {
  return ref.unilmAttention(q, k, v, { batch: c.mask.batch, seqLen: c.mask.seqLen, heads: c.heads, tokenIds: c.mask.tokenIds, segmentIds: c.mask.segmentIds, dropout: c.dropout });
}

for (const c of CASES) {
  test(`unilmAttention forward: ${c.name} (every version)`, async () => {
    const shape = [c.mask.batch, c.mask.seqLen, c.hidden];
    const size = shape[0] * shape[1] * shape[2];
    const [q, k, v] = [1, 2, 3].map((seed) => randomArray(size, seed + c.hidden, 2));
    const tensors = [q, k, v].map((data) => Tensor.fromArray(data, shape));
    const expected = referenceOf(c, q, k, v);
    await forEachVariant(async (variant) => {
      const out = unilmAttention(tensors[0], tensors[1], tensors[2], c.heads, c.mask, c.dropout);
      const actual = await out.toArray();
      assertClose(actual, expected, `${c.name} (${variant})`, { rtol: 1e-4, atol: 2e-6 });
      console.log(`worst: reference unilmAttention ${variant} ${JSON.stringify(shape)} heads ${c.heads}${c.dropout ? ' dropout' : ''} ${maxRelativeError(actual, expected).toExponential(2)}`);
      out.release();
    });
    for (const t of tensors) t.release();
  });
}

test('unilmAttention: UniLM visibility, checked through one-hot values', async () => {
  // v = identity over tokens (hidden = seqLen, 1 head): output row i is the probability row i.
  const mask = makeMask(6, [[2, 3]]);
  const T = 6;
  const q = Tensor.fromArray(new Float32Array(T * T), [1, T, T]);
  const k = Tensor.fromArray(new Float32Array(T * T), [1, T, T]);
  const v = Tensor.fromArray(Float32Array.from({ length: T * T }, (_, i) => (Math.floor(i / T) === i % T ? 1 : 0)), [1, T, T]);
  const probs = await unilmAttention(q, k, v, 1, mask).toArray();
  // c = [0, 0, 1, 2, 3, 3]; token 5 is padding. Row i sees j with c[j] <= c[i], j != 5, uniformly (zero scores).
  const c = [0, 0, 1, 2, 3, 3];
  for (let i = 0; i < T; i++) {
    const visible = c.map((cj, j) => cj <= c[i] && j !== 5);
    const count = visible.filter(Boolean).length;
    for (let j = 0; j < T; j++) assert.ok(Math.abs(probs[i * T + j] - (visible[j] ? 1 / count : 0)) < 1e-6, `p[${i}][${j}] = ${probs[i * T + j]}`);
  }
  for (const t of [q, k, v]) t.release();
});

test('unilmAttention refuses mismatched shapes and masks', () => {
  const a = Tensor.fromArray(new Float32Array(2 * 3 * 4), [2, 3, 4]);
  const b = Tensor.fromArray(new Float32Array(2 * 3 * 5), [2, 3, 5]);
  const mask = makeMask(3, [[3, 0], [3, 0]]);
  assert.throws(() => unilmAttention(a, b, a, 2, mask), /k \[2, 3, 5\] does not match/);
  assert.throws(() => unilmAttention(a, a, a, 3, mask), /3 heads do not divide/);
  assert.throws(() => unilmAttention(a, a, a, 2, makeMask(3, [[3, 0]])), /mask is \[1, 3\]/);
  for (const t of [a, b]) t.release();
});

test('unilmAttention gradients (central differences, every version)', async () => {
  await forEachVariant(async () => {
    for (const c of [CASES[0], CASES[1], CASES[2], CASES[4]]) {
      const shape = [c.mask.batch, c.mask.seqLen, c.hidden];
      await checkGradients(`unilmAttention${c.dropout ? ' dropout' : ''}`, [shape, shape, shape], ([q, k, v]) => unilmAttention(q, k, v, c.heads, c.mask, c.dropout), { step: 3e-3 });
    }
  });
});

test('unilmAttention gradients against float64 (every version)', async () => {
  await forEachVariant(async () => { for (const c of [
    { name: 'padding', heads: 2, hidden: 6, mask: makeMask(5, [[2, 2], [3, 1]]) },
    { name: 'dropout', heads: 2, hidden: 4, mask: makeMask(6, [[3, 3]]), dropout: { rate: 0.5, seed: 3 } },
    { name: 'head 64', heads: 2, hidden: 128, mask: makeMask(7, [[3, 3]]) },
    CASES[6],
    CASES[7],
    { name: 'rows past one subgroup tile, padding, dropout', heads: 1, hidden: 8, mask: makeMask(19, [[9, 7]]), dropout: { rate: 0.2, seed: 5 } },
  ] as Case[]) {
    const shape = [c.mask.batch, c.mask.seqLen, c.hidden];
    await checkGradientsAgainstReference(
      `unilmAttention ${c.name}`,
      [shape, shape, shape],
      ([q, k, v]) => unilmAttention(q, k, v, c.heads, c.mask, c.dropout),
      ([q, k, v]) => referenceOf(c, q, k, v),
      { tolerance: 2e-5 },
    );
  } });
});

test.after(() => reportWorst());
test.run();
