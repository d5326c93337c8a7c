import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { add, gelu, mul, scale } from '../../src/autograd/ops/elementwise.js';
import { Tensor } from '../../src/autograd/tensor.js';
import { assertClose } from '../support/compare.js';
import { checkGradients, checkGradientsAgainstReference, reportWorst } from '../support/check-op.js';
import { testGpu } from '../support/engine.js';
import { randomArray } from '../support/random.js';
import * as ref from '../support/reference.js';

// Kernels run four elements per invocation, the last n % 4 one by one: sizes below 4, with and
// without a remainder, and biases of 8 and 12 columns (vec4 broadcast) against 3, 13, 65 and 17 (scalar).
const SHAPES = [[1, 1], [1, 3], [2, 3], [7, 13], [4, 13], [6, 8], [129, 65], [3, 5, 17], [33, 12]];

test.before(async () => {
  await testGpu();
});

async function run(f: () => Tensor): Promise<Float32Array> {
  const out = f();
  const values = await out.toArray();
  out.release();
  return values;
}

for (const shape of SHAPES) {
  const size = shape.reduce((p, d) => p * d, 1);
  const cols = shape[shape.length - 1];
  const a = randomArray(size, 1);
  const b = randomArray(size, 2);
  const bias = randomArray(cols, 3);

  test(`add, mul, scale at ${JSON.stringify(shape)} match the CPU`, async () => {
    const ta = Tensor.fromArray(a, shape);
    const tb = Tensor.fromArray(b, shape);
    const tbias = Tensor.fromArray(bias, [cols]);
    assertClose(await run(() => add(ta, tb)), a.map((v, i) => v + b[i]), 'add');
    assertClose(await run(() => add(ta, tbias)), a.map((v, i) => v + bias[i % cols]), 'add with row broadcast');
    assertClose(await run(() => mul(ta, tb)), a.map((v, i) => v * b[i]), 'mul');
    assertClose(await run(() => mul(ta, tbias)), a.map((v, i) => v * bias[i % cols]), 'mul with row broadcast');
    assertClose(await run(() => scale(ta, -2.5)), a.map((v) => v * -2.5), 'scale');
    for (const t of [ta, tb, tbias]) t.release();
  });

  test(`gelu (erf) at ${JSON.stringify(shape)} matches float64 within 2e-6`, async () => {
    const x = randomArray(size, 4, 6);
    const tx = Tensor.fromArray(x, shape);
    assertClose(await run(() => gelu(tx)), Array.from(x, ref.gelu), 'gelu', { rtol: 2e-6, atol: 2e-6 });
    tx.release();
  });
}

test('the float64 erf reference agrees with known values', () => {
  // erf(0.5), erf(1), erf(2), erf(3), erf(5) to 15+ digits (Abramowitz & Stegun table 7.1 and standard tables).
  const known: [number, number][] = [[0.5, 0.5204998778130465], [1, 0.8427007929497149], [2, 0.9953222650189527], [3, 0.9999779095030014], [5, 0.9999999999984626]];
  for (const [x, value] of known) {
    assert.ok(Math.abs(ref.erf(x) - value) < 1e-14, `erf(${x}) = ${ref.erf(x)}, expected ${value}`);
    assert.ok(Math.abs(ref.erf(-x) + value) < 1e-14, `erf(-${x})`);
  }
});

test('broadcast of a mismatched operand is refused', () => {
  const a = Tensor.zeros([4, 6]);
  const b = Tensor.zeros([5]);
  assert.throws(() => add(a, b), /does not broadcast/);
  a.release();
  b.release();
});

test('gradients: add, mul (same shape and broadcast), scale, gelu', async () => {
  for (const shape of [[1, 1], [7, 13], [5, 3, 9], [3, 8]]) {
    const bias = [shape[shape.length - 1]];
    await checkGradients('add', [shape, shape], ([x, y]) => add(x, y));
    await checkGradients('add', [shape, bias], ([x, y]) => add(x, y));
    await checkGradients('mul', [shape, shape], ([x, y]) => mul(x, y));
    await checkGradients('mul', [shape, bias], ([x, y]) => mul(x, y));
    await checkGradients('scale', [shape], ([x]) => scale(x, 0.37));
    await checkGradients('gelu', [shape], ([x]) => gelu(x), { scale: 3 });
  }
});

test('gelu gradient against float64 reference', async () => {
  await checkGradientsAgainstReference('gelu', [[7, 13]], ([x]) => gelu(x), ([x]) => x.map(ref.gelu), { tolerance: 1e-5 });
});

test.after(() => reportWorst());
test.run();
