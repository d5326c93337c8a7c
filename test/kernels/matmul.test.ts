import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { activeGpu } from '../../src/autograd/engine.js';
import { linear, matmul } from '../../src/autograd/ops/matmul.js';
import { MATMUL_VARIANTS, matmulVariant, runnableMatmulVariants, setMatmulVariant, type MatmulVariant } from '../../src/kernels/matmul.js';
import { Tensor } from '../../src/autograd/tensor.js';
import { assertClose } from '../support/compare.js';
import { checkGradients, checkGradientsAgainstReference, reportWorst } from '../support/check-op.js';
import { forEachForced } from '../support/forced.js';
import { testGpu } from '../support/engine.js';
import { randomArray } from '../support/random.js';
import * as ref from '../support/reference.js';

let variants: MatmulVariant[] = [];

test.before(async () => {
  const gpu = await testGpu();
  // Every kernel version this adapter can run, each forced in turn (subgroup and texture need features).
  variants = runnableMatmulVariants(gpu);
  for (const variant of MATMUL_VARIANTS) {
    if (!variants.includes(variant)) console.log(`skipped: matmul variant ${variant} on this adapter`);
  }
});

test('forcing a version this adapter cannot run fails with the reason; the runnable ones are accepted', () => {
  const gpu = activeGpu();
  for (const variant of MATMUL_VARIANTS) {
    setMatmulVariant(variant);
    try {
      if (variants.includes(variant)) assert.is(matmulVariant(gpu), variant);
      else assert.throws(() => matmulVariant(gpu), /needs/);
    } finally {
      setMatmulVariant(null);
    }
  }
});

/** Runs `body` once per kernel version, forcing it, and restores the per-adapter choice. */
const forEachVariant = (body: (variant: MatmulVariant) => Promise<void>) => forEachForced(variants, setMatmulVariant, body);

test('the per-adapter default is a version this adapter runs', () => {
  const gpu = activeGpu();
  const chosen = matmulVariant(gpu);
  if (!variants.includes(chosen)) throw new Error(`default ${chosen} not among ${variants.join(', ')}`);
});

// (batch, M, K, N): 1x1, tiny, not multiples of any tile (subgroup tiles are 16 x 16, 128 rows a
// workgroup; tiled 64 x 64 by 32, by 16 in gpu/compat-profile.test.ts), K past one and several k
// blocks with a tail, and batched.
// The texture version copies operands whose stored rows are whole texels (4 floats) and reads them
// as stored (A stored [K, M] too when M is a multiple of 4; node/lavapipe-width.test.ts runs these
// at 8 lanes, the shuffle kernel), packs the rest; its k blocks
// are 32 steps, the last one masked. The last four shapes take the copy paths (A transposed too):
// M past one group of 16 row blocks, N not a multiple of the 32-column strip, K with a tail.
// The texture version tiles 20 rows where that pads M much less than 32 (every m here but 64 and 548, which take 32).
const SHAPES: [number, number, number, number][] = [
  [1, 1, 1, 1], [1, 7, 13, 5], [1, 129, 65, 33], [3, 17, 9, 31], [1, 1, 300, 1], [1, 33, 1, 70],
  [1, 131, 37, 67], [2, 20, 19, 130], [2, 64, 128, 96], [1, 548, 96, 44], [2, 36, 32, 20], [1, 40, 52, 24],
];

for (const [batch, m, k, n] of SHAPES) {
  for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]]) {
    test(`matmul b${batch} ${m}x${k}x${n} transA=${transA} transB=${transB} matches the CPU (every version)`, async () => {
      const a = randomArray(batch * m * k, m + k);
      const b = randomArray(batch * k * n, k + n);
      const expected = ref.matmul(a, b, { batch, m, k, n, transA, transB });
      const ta = Tensor.fromArray(a, transA ? [batch, k, m] : [batch, m, k]);
      const tb = Tensor.fromArray(b, transB ? [batch, n, k] : [batch, k, n]);
      await forEachVariant(async (variant) => {
        const out = matmul(ta, tb, { transA, transB });
        assertClose(await out.toArray(), expected, `matmul (${variant})`, { rtol: 1e-5, atol: 1e-5 * Math.sqrt(k) });
        out.release();
      });
      for (const t of [ta, tb]) t.release();
    });
  }
}

// The texture version adds the bias and GELU in its store loop (four columns a lane, masked past
// N): these take its 20-row tiles but for 90 rows (32-row tiles, M not a multiple of them), N past
// the 32-column strips and not a multiple of a lane's 4 columns (scalar stores), and N a multiple
// of 4 (vec4 stores).
for (const [m, k, n] of [[1, 1, 1], [7, 13, 5], [129, 65, 33], [130, 70, 131], [90, 36, 70], [61, 24, 72], [3, 8, 4]]) {
  test(`linear ${m}x${k}x${n} with bias, with and without fused GELU, matches the CPU (every version)`, async () => {
    const x = randomArray(m * k, 1, 2);
    const w = randomArray(k * n, 2);
    const bias = randomArray(n, 3);
    const [tx, tw, tbias] = [Tensor.fromArray(x, [m, k]), Tensor.fromArray(w, [k, n]), Tensor.fromArray(bias, [n])];
    const tolerance = { rtol: 1e-5, atol: 2e-5 * Math.sqrt(k) };
    await forEachVariant(async (variant) => {
      const plain = linear(tx, tw, tbias);
      const withGelu = linear(tx, tw, tbias, 'gelu');
      const geluOnly = linear(tx, tw, undefined, 'gelu');
      assertClose(await plain.toArray(), ref.matmul(x, w, { batch: 1, m, k, n }, bias), `linear (${variant})`, tolerance);
      assertClose(await withGelu.toArray(), ref.matmul(x, w, { batch: 1, m, k, n }, bias, 'gelu'), `linear+gelu (${variant})`, tolerance);
      assertClose(await geluOnly.toArray(), ref.matmul(x, w, { batch: 1, m, k, n }, undefined, 'gelu'), `linear+gelu without bias (${variant})`, tolerance);
      for (const t of [plain, withGelu, geluOnly]) t.release();
    });
    for (const t of [tx, tw, tbias]) t.release();
  });
}

test('matmuls recorded together stay correct when a later one grows the scratch textures (every version)', async () => {
  // Nothing is read back between the two: the texture version replaces its scratch textures
  // while the first product still waits for submission.
  const shapes = [
    { batch: 1, m: 9, k: 32, n: 12 },
    { batch: 1, m: 300, k: 256, n: 520 },
  ];
  const inputs = shapes.map((shape, i) => ({
    shape,
    a: randomArray(shape.m * shape.k, 10 + i),
    b: randomArray(shape.k * shape.n, 20 + i),
  }));
  const gpu = activeGpu();
  await forEachVariant(async (variant) => {
    const textureA = () => gpu.textures.acquire('matmul.a', 1);
    const outs = inputs.map(({ shape, a, b }, i) => {
      const ta = Tensor.fromArray(a, [shape.m, shape.k]);
      const tb = Tensor.fromArray(b, [shape.k, shape.n]);
      const before = textureA();
      const out = matmul(ta, tb);
      // The second product is larger than anything earlier in this file.
      if (variant === 'texture' && i === 1) assert.is.not(textureA(), before, 'the scratch texture of A did not grow');
      ta.release();
      tb.release();
      return out;
    });
    for (const [i, { shape, a, b }] of inputs.entries()) {
      assertClose(await outs[i].toArray(), ref.matmul(a, b, shape), `matmul ${i} (${variant})`, { rtol: 1e-5, atol: 1e-5 * Math.sqrt(shape.k) });
      outs[i].release();
    }
  });
});

test('matmul gradients (every transpose, batched, every version)', async () => {
  await forEachVariant(async () => {
    for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]]) {
      const [batch, m, k, n] = [2, 5, 7, 3];
      const shapeA = transA ? [batch, k, m] : [batch, m, k];
      const shapeB = transB ? [batch, n, k] : [batch, k, n];
      await checkGradients('matmul', [shapeA, shapeB], ([a, b]) => matmul(a, b, { transA, transB }));
    }
    await checkGradients('matmul', [[1, 1, 1], [1, 1, 1]], ([a, b]) => matmul(a, b));
  });
});

test('linear with a transposed kernel (a tied output layer) matches the CPU (every version)', async () => {
  const [m, k, n] = [37, 24, 53];
  const x = randomArray(m * k, 4);
  const table = randomArray(n * k, 5);
  const bias = randomArray(n, 6);
  const [tx, ttable, tbias] = [Tensor.fromArray(x, [m, k]), Tensor.fromArray(table, [n, k]), Tensor.fromArray(bias, [n])];
  await forEachVariant(async (variant) => {
    const out = linear(tx, ttable, tbias, 'none', true);
    assert.equal(out.shape, [m, n]);
    assertClose(await out.toArray(), ref.matmul(x, table, { batch: 1, m, k, n, transB: true }, bias), `linear transposed (${variant})`, { rtol: 1e-5, atol: 2e-5 * Math.sqrt(k) });
    out.release();
  });
  assert.throws(() => linear(tx, ttable, tbias), /linear: \[37, 24\] x kernel \[53, 24\]/);
  for (const t of [tx, ttable, tbias]) t.release();
});

test('linear gradients (bias, fused GELU, transposed kernel, every version)', async () => {
  await forEachVariant(async () => {
    await checkGradients('linear', [[6, 7], [9, 7], [9]], ([x, w, b]) => linear(x, w, b, 'none', true));
    await checkGradients('linear', [[6, 7], [7, 9], [9]], ([x, w, b]) => linear(x, w, b));
    await checkGradients('linear+gelu', [[2, 3, 7], [7, 9], [9]], ([x, w, b]) => linear(x, w, b, 'gelu'));
    await checkGradients('linear+gelu', [[5, 6], [6, 8], [8]], ([x, w, b]) => linear(x, w, b, 'gelu'));
    await checkGradients('linear', [[1, 1], [1, 1]], ([x, w]) => linear(x, w));
  });
});

test('linear+gelu gradient against float64 reference', async () => {
  const [m, k, n] = [5, 7, 4];
  await checkGradientsAgainstReference(
    'linear+gelu',
    [[m, k], [k, n], [n]],
    ([x, w, b]) => linear(x, w, b, 'gelu'),
    ([x, w, b]) => ref.matmul(x, w, { batch: 1, m, k, n }, b, 'gelu'),
    { tolerance: 1e-5 },
  );
});

test.after(() => reportWorst());

test('linear with a constant kernel keeps one copy of it across uses, and a new kernel in its recycled buffer is read anew (every version)', async () => {
  const gpu = activeGpu();
  const [m, k, n] = [100, 64, 52];
  const xs = [randomArray(m * k, 30), randomArray(m * k, 31)];
  const tolerance = { rtol: 1e-5, atol: 2e-5 * Math.sqrt(k) };
  await forEachVariant(async (variant) => {
    for (const transposed of [false, true]) {
      const shape = { batch: 1, m, k, n, transB: transposed };
      const kernelShape = transposed ? [n, k] : [k, n];
      const first = randomArray(k * n, 32);
      const kernel = Tensor.fromArray(first, kernelShape);
      kernel.constant = true;
      for (const [i, x] of xs.entries()) {
        const tx = Tensor.fromArray(x, [m, k]);
        const out = linear(tx, kernel, undefined, 'none', transposed);
        assertClose(await out.toArray(), ref.matmul(x, first, shape), `use ${i} (${variant}${transposed ? ', transposed' : ''})`, tolerance);
        for (const t of [tx, out]) t.release();
      }
      const storage = kernel.buffer.buffer;
      kernel.release();
      gpu.submit();
      const second = randomArray(k * n, 33);
      // The pool lends free buffers oldest first: take buffers until it lends that one.
      const held: Tensor[] = [];
      let next = Tensor.fromArray(second, kernelShape);
      while (next.buffer.buffer !== storage && held.length < 64) {
        held.push(next);
        next = Tensor.fromArray(second, kernelShape);
      }
      for (const t of held) t.release();
      next.constant = true;
      assert.is(next.buffer.buffer, storage, 'the pool lends the same GPU buffer again');
      const tx = Tensor.fromArray(xs[0], [m, k]);
      const out = linear(tx, next, undefined, 'none', transposed);
      assertClose(await out.toArray(), ref.matmul(xs[0], second, shape), `recycled (${variant}${transposed ? ', transposed' : ''})`, tolerance);
      for (const t of [tx, out, next]) t.release();
    }
  });
});

test.run();
