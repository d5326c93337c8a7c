import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Gpu } from '../../src/gpu/device.js';
import { matmul, matmulVariant } from '../../src/kernels/matmul.js';
import { transpose2d } from '../../src/kernels/transpose.js';
import { nodeGpu } from '../../src/node/gpu.js';

function randomMatrix(rows: number, cols: number, seed: number): Float32Array {
  let state = seed;
  return Float32Array.from({ length: rows * cols }, () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648 - 0.5;
  });
}

test('every new pipeline also runs on the helper device, and the main device computes as before', async () => {
  const gpu = await Gpu.create(nodeGpu(), { adapter: 'software', compileAhead: true });
  const ahead = gpu.compileAhead!;
  assert.ok(ahead, 'a software adapter gets the helper when asked');
  // A transposed A through the texture matmul: texture reads and writes, a uniform, read-only and writable buffers.
  const [m, k, n] = [37, 20, 9];
  const aStored = randomMatrix(k, m, 1);
  const b = randomMatrix(k, n, 2);
  const aBuffer = gpu.upload(aStored, 'a');
  const bBuffer = gpu.upload(b, 'b');
  const out = gpu.allocate(m * n * 4, 'out');
  matmul(gpu, aBuffer, bBuffer, out, { batch: 1, m, k, n, transA: true });
  const transposed = gpu.allocate(m * k * 4, 'transposed');
  transpose2d(gpu, aBuffer, transposed, k, m);
  const product = new Float32Array(await gpu.read(out));
  const flipped = new Float32Array(await gpu.read(transposed));
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let t = 0; t < k; t++) sum += aStored[t * m + i] * b[t * n + j];
      assert.ok(Math.abs(product[i * n + j] - sum) < 1e-5, `product[${i}, ${j}] = ${product[i * n + j]}, expected ${sum}`);
    }
    for (let t = 0; t < k; t++) assert.is(flipped[i * k + t], aStored[t * m + i]);
  }
  await ahead.idle();
  assert.is(ahead.firstFailure, null);
  assert.is(ahead.failures, 0);
  assert.is(ahead.compiled, gpu.counters.pipelines);
  assert.ok(gpu.counters.pipelines >= 3, `${gpu.counters.pipelines} pipelines (${matmulVariant(gpu)} matmul)`);
  gpu.destroy();
});

test('a pipeline the helper cannot run is skipped and reported; later ones still run', async () => {
  const gpu = await Gpu.create(nodeGpu(), { adapter: 'software', compileAhead: true });
  const ahead = gpu.compileAhead!;
  // A fixed-size array binding wants more bytes than the helper's placeholder buffer holds.
  const wide = gpu.kernel({
    name: 'wide-binding',
    wgsl: `@group(0) @binding(0) var<storage, read> big: array<vec4f, 64>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(1) fn main() { out[0] = big[63].w; }`,
  });
  await ahead.idle();
  const narrow = gpu.kernel({
    name: 'narrow-binding',
    wgsl: `@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(1) fn main() { out[0] = 7.0; }`,
  });
  await ahead.idle();
  assert.is(ahead.failures, 1);
  assert.match(ahead.firstFailure ?? '', 'wide-binding');
  assert.is(ahead.compiled, 1);
  const big = gpu.upload(Float32Array.from({ length: 256 }, (_, i) => i), 'big');
  const out = gpu.allocate(4, 'out');
  gpu.dispatch(wide, { big, out }, [1]);
  assert.equal([...new Float32Array(await gpu.read(out))], [255]);
  gpu.dispatch(narrow, { out }, [1]);
  assert.equal([...new Float32Array(await gpu.read(out))], [7]);
  gpu.destroy();
});

test('destroying the device while the helper is compiling leaves nothing pending', async () => {
  const gpu = await Gpu.create(nodeGpu(), { adapter: 'software', compileAhead: true });
  const src = gpu.upload(new Float32Array(12 * 5), 'src');
  const dst = gpu.allocate(12 * 5 * 4, 'dst');
  transpose2d(gpu, src, dst, 12, 5);
  transpose2d(gpu, src, dst, 16, 4);
  await gpu.sync();
  gpu.destroy();
  await gpu.compileAhead!.idle();
  assert.is(gpu.compileAhead!.failures, 0, gpu.compileAhead!.firstFailure ?? '');
});

test('no helper unless asked for', async () => {
  const gpu = await Gpu.create(nodeGpu(), { adapter: 'software' });
  assert.is(gpu.compileAhead, null);
  gpu.destroy();
});

test.run();
