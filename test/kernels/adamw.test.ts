import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AdamW } from '../../src/autograd/adamw.js';
import { Tensor } from '../../src/autograd/tensor.js';
import { assertClose, maxRelativeError } from '../support/compare.js';
import { testGpu } from '../support/engine.js';
import { randomArray } from '../support/random.js';
import * as ref from '../support/reference.js';

test.before(async () => {
  await testGpu();
});

// 'big': 9009 elements, 2252 vec4s over three workgroups of 1024 (16 to an invocation), the last
// short, then one scalar.
const SHAPES: Record<string, number[]> = { 'layer/kernel': [7, 13], 'layer/bias': [13], scalar: [1], big: [9, 1001] };
const OPTIONS: ref.AdamWRef = { lr: 1e-2, weightDecay: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-6 };

function makeParams(): Map<string, Tensor> {
  const params = new Map<string, Tensor>();
  let seed = 1;
  for (const [name, shape] of Object.entries(SHAPES)) {
    const size = shape.reduce((p, d) => p * d, 1);
    params.set(name, Tensor.fromArray(randomArray(size, seed++, 2), shape, { requiresGrad: true, label: name }));
  }
  return params;
}

function setGrads(params: Map<string, Tensor>, step: number, skip: string[] = []): Map<string, Float32Array> {
  const grads = new Map<string, Float32Array>();
  let seed = 100 * step;
  for (const [name, param] of params) {
    param.grad?.release();
    param.grad = null;
    if (skip.includes(name)) continue;
    // Mixed magnitudes, so that epsilon and the bias corrections both matter.
    const g = randomArray(param.size, seed++, step === 2 ? 1e-5 : 3);
    grads.set(name, g);
    param.grad = Tensor.fromArray(g, param.shape);
  }
  return grads;
}

function releaseAll(params: Map<string, Tensor>): void {
  for (const param of params.values()) {
    param.grad?.release();
    param.release();
  }
}

test('AdamW: 3 steps match float64 bert4keras AdamW (bias correction, weight decay from the old value)', async () => {
  const params = makeParams();
  const expected = new Map<string, { p: Float64Array; m: Float64Array; v: Float64Array }>();
  for (const [name, param] of params) {
    expected.set(name, { p: Float64Array.from(await param.toArray()), m: new Float64Array(param.size), v: new Float64Array(param.size) });
  }
  const optimizer = new AdamW(params, { lr: OPTIONS.lr, weightDecay: OPTIONS.weightDecay });
  for (let t = 1; t <= 3; t++) {
    // 'layer/bias' has no gradient on step 2: untouched then, moments kept.
    const grads = setGrads(params, t, t === 2 ? ['layer/bias'] : []);
    optimizer.step();
    for (const [name, g] of grads) {
      const e = expected.get(name)!;
      ref.adamwStep(e.p, g, e.m, e.v, t, OPTIONS);
    }
  }
  assert.is(optimizer.stepCount, 3);
  let worst = 0;
  for (const [name, param] of params) {
    const e = expected.get(name)!;
    const actual = await param.toArray();
    assertClose(actual, e.p, `${name} after 3 steps`, { rtol: 1e-5, atol: 1e-6 });
    worst = Math.max(worst, maxRelativeError(actual, e.p));
  }
  const state = await optimizer.exportState();
  for (const [name, e] of expected) {
    assertClose(state.m.get(name)!, e.m, `${name} m`, { rtol: 1e-5, atol: 1e-7 });
    assertClose(state.v.get(name)!, e.v, `${name} v`, { rtol: 1e-5, atol: 1e-10 });
  }
  console.log(`worst: reference adamw 3 steps ${worst.toExponential(2)}`);
  optimizer.release();
  releaseAll(params);
});

test('AdamW: learning rate changes apply to the next step; zero lr leaves parameters', async () => {
  const params = makeParams();
  const before = await params.get('scalar')!.toArray();
  const optimizer = new AdamW(params, { lr: 0.5, weightDecay: 0.01 });
  optimizer.setLearningRate(0);
  setGrads(params, 1);
  optimizer.step();
  assert.equal(await params.get('scalar')!.toArray(), before);
  assert.throws(() => optimizer.setLearningRate(Number.NaN), /learning rate/);
  optimizer.release();
  releaseAll(params);
});

test('AdamW: export/import round trip continues exactly like the original', async () => {
  const params = makeParams();
  const twin = makeParams();
  const optimizer = new AdamW(params, { lr: 1e-3, weightDecay: 0.01 });
  for (let t = 1; t <= 2; t++) {
    setGrads(params, t);
    optimizer.step();
  }
  const state = await optimizer.exportState();
  assert.is(state.step, 2);
  for (const [name, param] of params) await copyInto(param, twin.get(name)!);
  const resumed = new AdamW(twin, { lr: 1e-3, weightDecay: 0.01 });
  resumed.importState(state);
  assert.is(resumed.stepCount, 2);
  setGrads(params, 3);
  setGrads(twin, 3);
  optimizer.step();
  resumed.step();
  for (const [name, param] of params) {
    assert.equal(await twin.get(name)!.toArray(), await param.toArray(), `${name} after resuming`);
  }
  const again = await resumed.exportState();
  const original = await optimizer.exportState();
  for (const name of params.keys()) {
    assert.equal(again.m.get(name), original.m.get(name), `${name} m`);
    assert.equal(again.v.get(name), original.v.get(name), `${name} v`);
  }
  assert.throws(() => resumed.importState({ step: 1, m: new Map([['nope', new Float32Array(1)]]), v: new Map() }), /unknown parameter 'nope'/);
  assert.throws(() => resumed.importState({ step: 1, m: new Map([['scalar', new Float32Array(2)]]), v: new Map() }), /has 2 values/);
  optimizer.release();
  resumed.release();
  releaseAll(params);
  releaseAll(twin);
});

async function copyInto(from: Tensor, to: Tensor): Promise<void> {
  const { activeGpu } = await import('../../src/autograd/engine.js');
  activeGpu().write(to.buffer, await from.toArray());
}

test.run();
