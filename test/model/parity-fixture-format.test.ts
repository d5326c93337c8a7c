// Sanity checks of the parity fixture and its loader: names, shapes, finite values, and a few
// quantities recomputed independently here in float64 from the stored arrays, which proves the
// fixture is self-consistent (the engine's own parity test compares against it).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { expectedParamShapes, loadParityFixture, type FixtureArray } from '../support/parity-fixture.js';

const fx = loadParityFixture();
const B = fx.batch;
const T = fx.seqLen;
const H = fx.config.hidden_size;
const V = fx.config.vocab_size;

function param(name: string): FixtureArray {
  const p = fx.params.get(name);
  if (p === undefined) throw new Error(`missing parameter ${name}`);
  return p;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.is(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

/** erf in float64: Maclaurin series for |x| < 2, continued fraction for erfc beyond. */
function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2) {
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 200; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))
  let frac = ax;
  for (let k = 80; k >= 1; k--) frac = ax + k / 2 / frac;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / frac;
  return Math.sign(x) * (1 - erfc);
}

const gelu = (x: number): number => 0.5 * x * (1 + erf(x / Math.SQRT2));

/** Float64 layer norm of one row, in place into out. */
function layerNorm(x: Float64Array, gamma: Float32Array, beta: Float32Array, eps: number): Float64Array {
  const n = x.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i]!;
  mean /= n;
  let variance = 0;
  for (let i = 0; i < n; i++) variance += (x[i]! - mean) ** 2;
  variance /= n;
  const inv = 1 / Math.sqrt(variance + eps);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (x[i]! - mean) * inv * gamma[i]! + beta[i]!;
  return out;
}

/** y = x @ kernel + bias with a TF-layout kernel [in, out]. */
function dense(x: ArrayLike<number>, kernel: FixtureArray, bias: FixtureArray): Float64Array {
  const [nIn, nOut] = kernel.shape as [number, number];
  const y = new Float64Array(nOut);
  for (let o = 0; o < nOut; o++) y[o] = bias.data[o]!;
  for (let i = 0; i < nIn; i++) {
    const xi = x[i]!;
    for (let o = 0; o < nOut; o++) y[o] += xi * kernel.data[i * nOut + o]!;
  }
  return y;
}

function logSumExp(v: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < v.length; i++) max = Math.max(max, v[i]!);
  let s = 0;
  for (let i = 0; i < v.length; i++) s += Math.exp(v[i]! - max);
  return max + Math.log(s);
}

test('inputs: paired rows encode(a,b) / encode(b,a), segments, padding', () => {
  assert.is(fx.ids.length, B);
  assert.is(fx.segments.length, B);
  assert.is(B % 2, 0);
  let paddedRows = 0;
  for (let r = 0; r < B; r++) {
    const ids = fx.ids[r]!;
    const seg = fx.segments[r]!;
    assert.is(ids.length, T);
    assert.is(seg.length, T);
    assert.is(ids[0], 2, '[CLS] first');
    const len = ids.filter((t) => t !== 0).length;
    if (len < T) paddedRows++;
    for (let t = len; t < T; t++) {
      assert.is(ids[t], 0, 'padding only at the end');
      assert.is(seg[t], 0, 'padding has segment 0');
    }
    const seps = ids.map((t, i) => (t === 3 ? i : -1)).filter((i) => i >= 0);
    assert.equal(seps.length, 2);
    assert.is(seps[1], len - 1);
    for (let t = 0; t < len; t++) assert.is(seg[t], t <= seps[0]! ? 0 : 1);
    for (const t of ids) assert.ok(Number.isInteger(t) && t >= 0 && t < V);
  }
  assert.ok(paddedRows >= 2, 'some rows are padded');
  for (let k = 0; k < B; k += 2) {
    const split = (ids: number[]): [number[], number[]] => {
      const s = ids.indexOf(3);
      const e = ids.indexOf(3, s + 1);
      return [ids.slice(1, s), ids.slice(s + 1, e)];
    };
    const [a1, b1] = split(fx.ids[k]!);
    const [a2, b2] = split(fx.ids[k + 1]!);
    assert.equal(a1, b2);
    assert.equal(b1, a2);
  }
});

test('every parameter and gradient present with the expected shape, finite', () => {
  const expected = expectedParamShapes(fx.config);
  assert.equal(fx.paramNames, expected.map(([n]) => n));
  assert.is(fx.params.size, expected.length);
  assert.is(fx.grads.size, expected.length);
  for (const [name, shape] of expected) {
    const p = fx.params.get(name);
    const g = fx.grads.get(name);
    assert.ok(p !== undefined && g !== undefined, name);
    assert.equal(p.shape, shape, name);
    assert.equal(g.shape, shape, `grad ${name}`);
    assert.is(p.data.length, shape.reduce((a, b) => a * b, 1));
    assert.ok(p.data.every(Number.isFinite), name);
    assert.ok(g.data.every(Number.isFinite), `grad ${name}`);
    assert.ok(g.data.some((x) => x !== 0), `grad ${name} is not all zero`);
  }
  for (const [name, p] of fx.finalParams) {
    assert.equal(p.shape, param(name).shape, `final ${name}`);
    assert.ok(p.data.every(Number.isFinite), `final ${name}`);
  }
  assert.ok(fx.finalParams.size >= 2);
});

test('outputs have the documented shapes and are finite', () => {
  assert.equal(fx.logits.shape, [B, T, V]);
  assert.equal(fx.pooled.shape, [B, H]);
  assert.is(fx.hiddenStates.length, fx.config.num_hidden_layers + 1);
  for (const h of fx.hiddenStates) {
    assert.equal(h.shape, [B, T, H]);
    assert.ok(h.data.every(Number.isFinite));
  }
  assert.ok(fx.logits.data.every(Number.isFinite));
  assert.ok(fx.pooled.data.every(Number.isFinite));
});

test('losses positive, total = seq2seq + similarity, AdamW losses fall', () => {
  const { total, seq2seq, similarity } = fx.losses;
  assert.ok(seq2seq > 0 && similarity > 0);
  assert.ok(Math.abs(total - (seq2seq + similarity)) < 1e-12);
  assert.is(fx.adamwLosses.length, fx.adam.steps + 1);
  assert.ok(Math.abs(fx.adamwLosses[0]!.total - total) < 1e-12, 'step 1 loss = initial loss');
  for (const l of fx.adamwLosses) {
    assert.ok(l.seq2seq > 0 && l.similarity > 0);
    assert.ok(Math.abs(l.total - (l.seq2seq + l.similarity)) < 1e-12);
  }
  for (let i = 1; i < fx.adamwLosses.length; i++) {
    assert.ok(fx.adamwLosses[i]!.total < fx.adamwLosses[i - 1]!.total, `loss falls at step ${i}`);
  }
  assert.ok(fx.adamwLosses.at(-1)!.total < 0.9 * total, 'visible decrease over the steps');
  assert.is(fx.lr, 1e-3);
  assert.is(fx.weightDecay, 0.01);
});

test('AdamW moved the final parameters by at most a few lr per step', () => {
  for (const [name, fin] of fx.finalParams) {
    const init = param(name).data;
    const change = maxAbsDiff(fin.data, init);
    assert.ok(change > 0, `${name} changed`);
    assert.ok(change < fx.adam.steps * fx.lr * 3, `${name} moved ${change}`);
  }
});

test('seq2seq loss recomputed from the stored logits (float64)', () => {
  let sum = 0;
  let weight = 0;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T - 1; t++) {
      const w = fx.segments[b]![t + 1]!;
      if (w === 0) continue;
      const row = fx.logits.data.subarray((b * T + t) * V, (b * T + t + 1) * V);
      sum += w * (logSumExp(row) - row[fx.ids[b]![t + 1]!]!);
      weight += w;
    }
  }
  const loss = sum / weight;
  const err = Math.abs(loss - fx.losses.seq2seq);
  console.log(`\ninfo: seq2seq from logits ${loss} vs ${fx.losses.seq2seq} (diff ${err.toExponential(2)})`);
  assert.ok(err < 1e-6, `seq2seq diff ${err}`);
});

test('similarity loss recomputed from the stored pooled output (float64)', () => {
  const z: Float64Array[] = [];
  for (let b = 0; b < B; b++) {
    const v = Float64Array.from(fx.pooled.data.subarray(b * H, (b + 1) * H));
    const norm = Math.sqrt(Math.max(v.reduce((s, x) => s + x * x, 0), 1e-12));
    z.push(v.map((x) => x / norm));
  }
  let loss = 0;
  for (let i = 0; i < B; i++) {
    const s = new Float64Array(B);
    for (let j = 0; j < B; j++) {
      let dot = 0;
      for (let k = 0; k < H; k++) dot += z[i]![k]! * z[j]![k]!;
      s[j] = (dot - (i === j ? 1e12 : 0)) * fx.similarityScale;
    }
    loss += logSumExp(s) - s[i ^ 1]!;
  }
  loss /= B;
  const err = Math.abs(loss - fx.losses.similarity);
  console.log(`\ninfo: similarity from pooled ${loss} vs ${fx.losses.similarity} (diff ${err.toExponential(2)})`);
  assert.ok(err < 1e-6, `similarity diff ${err}`);
});

test('embeddings LayerNorm output recomputed from the stored parameters', () => {
  const word = param('bert/embeddings/word_embeddings').data;
  const pos = param('bert/embeddings/position_embeddings').data;
  const type = param('bert/embeddings/token_type_embeddings').data;
  const gamma = param('bert/embeddings/LayerNorm/gamma').data;
  const beta = param('bert/embeddings/LayerNorm/beta').data;
  let worst = 0;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const id = fx.ids[b]![t]!;
      const sg = fx.segments[b]![t]!;
      const e = new Float64Array(H);
      for (let k = 0; k < H; k++) e[k] = word[id * H + k]! + pos[t * H + k]! + type[sg * H + k]!;
      const y = layerNorm(e, gamma, beta, fx.layerNormEps);
      const ref = fx.hiddenStates[0]!.data.subarray((b * T + t) * H, (b * T + t + 1) * H);
      worst = Math.max(worst, maxAbsDiff(y, ref));
    }
  }
  assert.ok(worst < 1e-6, `embeddings LN diff ${worst}`);
});

test('pooled output and MLM logits recomputed from the last hidden state', () => {
  const last = fx.hiddenStates.at(-1)!.data;
  const word = param('bert/embeddings/word_embeddings').data;
  const outBias = param('cls/predictions/output_bias').data;
  let worstPooled = 0;
  let worstLogits = 0;
  for (let b = 0; b < B; b++) {
    const cls = last.subarray(b * T * H, b * T * H + H);
    const pooled = dense(cls, param('bert/pooler/dense/kernel'), param('bert/pooler/dense/bias'));
    worstPooled = Math.max(worstPooled, maxAbsDiff(pooled, fx.pooled.data.subarray(b * H, (b + 1) * H)));
    for (let t = 0; t < T; t++) {
      const x = last.subarray((b * T + t) * H, (b * T + t + 1) * H);
      const h = dense(x, param('cls/predictions/transform/dense/kernel'), param('cls/predictions/transform/dense/bias'))
        .map(gelu);
      const hn = layerNorm(h, param('cls/predictions/transform/LayerNorm/gamma').data,
        param('cls/predictions/transform/LayerNorm/beta').data, fx.layerNormEps);
      const ref = fx.logits.data.subarray((b * T + t) * V, (b * T + t + 1) * V);
      for (let v = 0; v < V; v++) {
        let logit = outBias[v]!;
        for (let k = 0; k < H; k++) logit += hn[k]! * word[v * H + k]!;
        worstLogits = Math.max(worstLogits, Math.abs(logit - ref[v]!));
      }
    }
  }
  console.log(`\ninfo: pooled diff ${worstPooled.toExponential(2)}, logits diff ${worstLogits.toExponential(2)}`);
  assert.ok(worstPooled < 1e-6, `pooled diff ${worstPooled}`);
  assert.ok(worstLogits < 1e-6, `logits diff ${worstLogits}`);
});

test('output_bias gradient recomputed from the stored logits (only seq2seq reaches it)', () => {
  const grad = new Float64Array(V);
  let weight = 0;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T - 1; t++) {
      const w = fx.segments[b]![t + 1]!;
      if (w === 0) continue;
      const row = fx.logits.data.subarray((b * T + t) * V, (b * T + t + 1) * V);
      const lse = logSumExp(row);
      for (let v = 0; v < V; v++) grad[v] += w * Math.exp(row[v]! - lse);
      grad[fx.ids[b]![t + 1]!] -= w;
      weight += w;
    }
  }
  for (let v = 0; v < V; v++) grad[v] /= weight;
  const diff = maxAbsDiff(grad, fx.grads.get('cls/predictions/output_bias')!.data);
  console.log(`\ninfo: output_bias grad diff ${diff.toExponential(2)}`);
  assert.ok(diff < 1e-7, `output_bias grad diff ${diff}`);
});

test('pooler bias gradient recomputed from the stored pooled output (only similarity reaches it)', () => {
  const norms: number[] = [];
  const z: Float64Array[] = [];
  for (let b = 0; b < B; b++) {
    const v = Float64Array.from(fx.pooled.data.subarray(b * H, (b + 1) * H));
    const norm = Math.sqrt(Math.max(v.reduce((s, x) => s + x * x, 0), 1e-12));
    norms.push(norm);
    z.push(v.map((x) => x / norm));
  }
  const dot = (a: Float64Array, c: Float64Array): number => a.reduce((s, x, k) => s + x * c[k]!, 0);
  // dL/dS[i][j] = (softmax(S_i)_j - [j = i^1]) / B, S = (z z^T - 1e12 I) * scale.
  const dS: Float64Array[] = [];
  for (let i = 0; i < B; i++) {
    const s = new Float64Array(B);
    for (let j = 0; j < B; j++) s[j] = (dot(z[i]!, z[j]!) - (i === j ? 1e12 : 0)) * fx.similarityScale;
    const lse = logSumExp(s);
    dS.push(s.map((x, j) => (Math.exp(x - lse) - (j === (i ^ 1) ? 1 : 0)) / B));
  }
  const grad = new Float64Array(H);
  for (let i = 0; i < B; i++) {
    const dz = new Float64Array(H);
    for (let j = 0; j < B; j++) {
      const c = fx.similarityScale * (dS[i]![j]! + dS[j]![i]!);
      for (let k = 0; k < H; k++) dz[k] += c * z[j]![k]!;
    }
    const proj = dot(z[i]!, dz);
    for (let k = 0; k < H; k++) grad[k] += (dz[k]! - z[i]![k]! * proj) / norms[i]!;
  }
  const ref = fx.grads.get('bert/pooler/dense/bias')!.data;
  const scale = Math.max(...Array.from(ref, Math.abs));
  const diff = maxAbsDiff(grad, ref);
  console.log(`\ninfo: pooler bias grad diff ${diff.toExponential(2)} (max |grad| ${scale.toExponential(2)})`);
  assert.ok(diff < 1e-4 * scale, `pooler bias grad diff ${diff}`);
});

test('erf helper is accurate (guards the GELU used above)', () => {
  // Reference values of erf to 16 digits.
  const cases: Array<[number, number]> = [
    [0.1, 0.1124629160182849], [0.5, 0.5204998778130465], [1, 0.8427007929497149],
    [1.9, 0.9927904292352575], [2, 0.9953222650189527], [2.1, 0.997020533343667],
    [2.9, 0.9999589021219005], [3.5, 0.9999992569016276], [-1.5, -0.9661051464753108],
  ];
  for (const [x, want] of cases) assert.ok(Math.abs(erf(x) - want) < 1e-15, `erf(${x}) = ${erf(x)}`);
});

test.run();
