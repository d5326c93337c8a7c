import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { linear } from '../../src/autograd/ops/matmul.js';
import { layerNorm, softmax } from '../../src/autograd/ops/normalization.js';
import { mean } from '../../src/autograd/ops/reduce.js';
import { embedding } from '../../src/autograd/ops/embedding.js';
import { backward } from '../../src/autograd/tape.js';
import { scope, Tensor } from '../../src/autograd/tensor.js';
import { adapterPreferenceFromEnv } from '../../src/node/gpu.js';
import type { Gpu } from '../../src/gpu/device.js';
import { MemoryLimitError, sizeClass } from '../../src/gpu/pool.js';
import { fillFromScalar } from '../../src/kernels/elementwise.js';
import { TEXTURE_WIDTH, type ScratchTexture } from '../../src/gpu/textures.js';
import { testGpu } from '../support/engine.js';
import { randomArray } from '../support/random.js';

let gpu: Gpu;
test.before(async () => {
  gpu = await testGpu({ memoryLimit: 64 * 1024 * 1024 });
  console.log(`info: adapter ${gpu.adapterKind}: ${gpu.adapterDescription}`);
});

test('size classes round up by at most 12.5 % above 4 KiB', () => {
  assert.is(sizeClass(1), 256);
  assert.is(sizeClass(4096), 4096);
  for (const bytes of [4097, 10_000, 123_457, 5_000_000, 1e9]) {
    const c = sizeClass(bytes);
    assert.ok(c >= bytes && c <= bytes * 1.125, `${bytes} -> ${c}`);
  }
});

test('an allocation past the cap names the request, bytes in use, the cap and the largest live buffers', () => {
  const big = gpu.allocate(40 * 1024 * 1024, 'big activations');
  let error: unknown;
  try {
    gpu.allocate(30 * 1024 * 1024, 'one too many');
  } catch (caught) {
    error = caught;
  }
  assert.instance(error, MemoryLimitError);
  const message = (error as Error).message;
  assert.match(message, /'one too many' needs 30.0 MiB/);
  assert.match(message, /40.0 MiB is in use of the 64.0 MiB cap/);
  assert.match(message, /Largest live allocations: 'big activations' 40.0 MiB/);
  gpu.release(big);
  gpu.submit();
  // After release and submission the memory is reusable again.
  const again = gpu.allocate(30 * 1024 * 1024, 'fits now');
  gpu.release(again);
});

test('a released buffer is reused only after the submission that used it', () => {
  gpu.submit();
  const first = gpu.allocate(1000, 'first');
  const buffer = first.buffer;
  gpu.release(first);
  const second = gpu.allocate(1000, 'second');
  assert.is.not(second.buffer, buffer, 'reused before submission');
  gpu.submit();
  const third = gpu.allocate(1000, 'third');
  assert.is(third.buffer, buffer, 'not reused after submission');
  gpu.release(second);
  gpu.release(third);
});

test('free buffers are lent lowest creation first, whatever order they came back in', () => {
  gpu.submit();
  const lend = () => [gpu.allocate(3000, 'a'), gpu.allocate(3000, 'b'), gpu.allocate(3000, 'c')];
  let lent = lend();
  const created = lent.map((l) => l.buffer);
  for (const order of [[2, 0, 1], [1, 2, 0]]) {
    for (const i of order) gpu.release(lent[i]);
    gpu.submit();
    lent = lend();
    assert.equal(lent.map((l) => created.indexOf(l.buffer)), [0, 1, 2], `released in order ${order}`);
  }
  for (const l of lent) gpu.release(l);
});

test('a dispatch repeated on the same buffers in one submission takes its own uniform values', async () => {
  const scalar = gpu.upload(new Float32Array([1.5]), 'scalar');
  const out = gpu.allocate(64 * 4, 'out');
  const copies = [2, 3, -1].map((alpha) => {
    fillFromScalar(gpu, scalar, out, 64, alpha);
    const copy = gpu.allocate(64 * 4, 'copy');
    gpu.copy(out, copy, 64 * 4);
    return { alpha, copy };
  });
  for (const { alpha, copy } of copies) {
    const values = new Float32Array(await gpu.read(copy));
    assert.ok(values.every((v) => v === 1.5 * alpha), `alpha ${alpha}: ${values[0]}`);
    gpu.release(copy);
  }
  gpu.release(scalar);
  gpu.release(out);
});

test('peak bytes are tracked', () => {
  gpu.pool.resetPeaks();
  const before = gpu.pool.snapshot();
  const a = gpu.allocate(3 * 1024 * 1024, 'peak');
  gpu.release(a);
  const after = gpu.pool.snapshot();
  assert.ok(after.peakBytesInUse >= before.bytesInUse + 3 * 1024 * 1024);
  assert.is(after.bytesInUse, before.bytesInUse);
});

test('a launcher that binds wrongly fails at once', () => {
  const kernel = gpu.kernel({
    name: 'probe',
    wgsl: `struct Params { n: u32, alpha: f32 }
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x < params.n) { dst[gid.x] = params.alpha * src[gid.x]; }
}`,
  });
  const a = gpu.allocate(64, 'a');
  const b = gpu.allocate(64, 'b');
  assert.throws(() => gpu.dispatch(kernel, { src: a, out: b, params: { n: 1, alpha: 1 } }, [1]), /no binding named 'out'/);
  assert.throws(() => gpu.dispatch(kernel, { src: a, params: { n: 1, alpha: 1 } } as never, [1]), /binding 'dst' not given/);
  assert.throws(() => gpu.dispatch(kernel, { src: a, dst: a, params: { n: 1, alpha: 1 } }, [1]), /bound both to 'src' and to writable 'dst'/);
  assert.throws(() => gpu.dispatch(kernel, { src: a, dst: b, params: { n: 1 } }, [1]), /'params.alpha' \(f32\) not given/);
  assert.throws(() => gpu.dispatch(kernel, { src: a, dst: b, params: { n: 1, alpha: 1, beta: 2 } }, [1]), /has no member 'beta'/);
  assert.throws(() => gpu.dispatch(kernel, { src: a, dst: b, params: { n: -1, alpha: 1 } }, [1]), /must be a u32/);
  assert.throws(() => gpu.dispatch(kernel, { src: b, dst: a, params: a }, [1]), /is a uniform struct, got a buffer/);
  gpu.release(a);
  assert.throws(() => gpu.dispatch(kernel, { src: a, dst: b, params: { n: 1, alpha: 1 } }, [1]), /released buffer 'a'/);
  gpu.release(b);
});

test('scratch textures count against the cap, grow, and free the old texture only after submission', () => {
  gpu.submit();
  const before = gpu.pool.snapshot().bytesInUse;
  const small = gpu.textures.acquire('probe', 1000);
  const smallBytes = small.texels * 16;
  assert.ok(small.texels >= 1000 && small.texels % TEXTURE_WIDTH === 0, `${small.texels} texels`);
  assert.is(gpu.pool.snapshot().bytesInUse, before + smallBytes);
  assert.is(gpu.textures.acquire('probe', 10), small, 'a smaller request reuses the texture');
  const grown = gpu.textures.acquire('probe', 5 * TEXTURE_WIDTH + 1);
  assert.ok(grown.texels >= 5 * TEXTURE_WIDTH + 1 && grown.texels <= 8 * TEXTURE_WIDTH, `${grown.texels} texels`);
  // Work recorded before the growth may still read the old texture: it stays counted until submitted.
  assert.is(gpu.pool.snapshot().bytesInUse, before + smallBytes + grown.texels * 16);
  gpu.submit();
  assert.is(gpu.pool.snapshot().bytesInUse, before + grown.texels * 16);
  let error: unknown;
  try {
    gpu.textures.acquire('probe', 8 * 1024 * 1024);
  } catch (caught) {
    error = caught;
  }
  assert.instance(error, MemoryLimitError);
  assert.match((error as Error).message, /'texture probe \(\d+ rows\)' needs 128.0 MiB/);
});

function textureProbe() {
  return gpu.kernel({
    name: 'texture-probe',
    wgsl: `struct Params { texels: u32 }
@group(0) @binding(0) var src: texture_storage_2d<rgba32float, read>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4f>;
@group(0) @binding(2) var<uniform> params: Params;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) gid: vec3u) {
  let t = gid.x;
  if (t < params.texels) { dst[t] = textureLoad(src, vec2u(t % ${TEXTURE_WIDTH}u, t / ${TEXTURE_WIDTH}u)); }
}`,
  });
}

async function readTexture(texture: ScratchTexture, texels: number): Promise<Float32Array> {
  const target = gpu.allocate(texels * 16, 'texture readback');
  gpu.dispatch(textureProbe(), { src: texture, dst: target, params: { texels } }, [Math.ceil(texels / 64)]);
  const values = new Float32Array(await gpu.read(target));
  gpu.release(target);
  return values;
}

test('a buffer copied into a scratch texture reads back texel for texel', async () => {
  if (!gpu.readableStorageTextures) {
    console.log('skipped: this adapter cannot read storage textures in WGSL');
    return;
  }
  const kernel = textureProbe();
  // Past one texture row, ending in a partial one.
  const texels = TEXTURE_WIDTH + 37;
  const data = randomArray(texels * 4, 5);
  const source = gpu.upload(data, 'texture source');
  const target = gpu.allocate(texels * 16, 'texture readback');
  const texture = gpu.textures.acquire('probe', texels);
  gpu.copyToTexture(source, texture, texels);
  assert.throws(() => gpu.copyToTexture(source, texture, texels + 1), /overruns 'texture source'/);
  assert.throws(() => gpu.dispatch(kernel, { src: source, dst: target, params: { texels } }, [1]), /'src' is a storage texture/);
  assert.throws(() => gpu.dispatch(kernel, { src: texture, dst: texture, params: { texels } } as never, [1]), /'dst' is a storage buffer/);
  assert.equal(await readTexture(texture, texels), data);
  gpu.release(source);
  gpu.release(target);
});

test('a resident texture is copied once and kept, counts against the cap, and goes with its buffer or when memory runs short', async () => {
  if (!gpu.readableStorageTextures) {
    console.log('skipped: this adapter cannot read storage textures in WGSL');
    return;
  }
  gpu.submit();
  const before = gpu.pool.snapshot().bytesInUse;
  const texels = TEXTURE_WIDTH + 5;
  const data = randomArray(texels * 4, 8);
  const source = gpu.upload(data, 'weights');
  const resident = gpu.residentTexture(source, texels)!;
  assert.ok(resident, 'room for a resident copy');
  assert.equal(await readTexture(resident, texels), data);
  assert.is(gpu.pool.snapshot().bytesInUse, before + source.capacity + 2 * TEXTURE_WIDTH * 16);
  // Kept, not copied again: a write the contract forbids shows the old contents.
  gpu.write(source, new Float32Array(texels * 4));
  assert.is(gpu.residentTexture(source, texels), resident);
  assert.equal(await readTexture(resident, texels), data);
  gpu.release(source);
  gpu.submit();
  assert.is(gpu.pool.snapshot().bytesInUse, before, 'released with its buffer');

  // A 64 MiB cap: no resident beside a 40 MiB buffer; a 24 MiB one's, dropped for 20 MiB of activations.
  const big = gpu.allocate(40 * 1024 * 1024, 'big weights');
  assert.ok(gpu.residentTexture(big, (40 * 1024 * 1024) / 16) === null, 'no room beside the buffer itself');
  gpu.release(big);
  gpu.submit();
  const medium = gpu.allocate(24 * 1024 * 1024, 'weights');
  assert.ok(gpu.residentTexture(medium, (24 * 1024 * 1024) / 16), 'room for 24 MiB more');
  const other = gpu.allocate(20 * 1024 * 1024, 'activations');
  assert.is(gpu.residentTexture(medium, (24 * 1024 * 1024) / 16), null, 'no more residents once memory ran short');
  gpu.release(medium);
  gpu.release(other);
  gpu.submit();
  assert.is(gpu.pool.snapshot().bytesInUse, before);
});

test('dispatches and submissions are counted', async () => {
  const before = { ...gpu.counters };
  const x = Tensor.fromArray([1, 2, 3], [3]);
  const total = mean(x);
  assert.is(gpu.counters.dispatches, before.dispatches + 1);
  assert.is(await total.item(), 2);
  assert.ok(gpu.counters.submissions > before.submissions);
  x.release();
  total.release();
});

test('pipelines are compiled once per WGSL and constants', () => {
  const wgsl = '@group(0) @binding(0) var<storage, read_write> x: array<f32>;\noverride value: f32 = 1.0;\n@compute @workgroup_size(1) fn main() { x[0] = value; }';
  const source = { name: 'same', wgsl };
  // The same text built anew, as a kernel generating its WGSL per call would pass it.
  const rebuilt = ['@group(0) @binding(0) var<storage, read_write> x: array<f32>;', 'override value: f32 = 1.0;', '@compute @workgroup_size(1) fn main() { x[0] = value; }'].join('\n');
  assert.is(gpu.kernel(source), gpu.kernel({ ...source, wgsl: rebuilt }));
  assert.is(gpu.kernel(source), gpu.kernel({ ...source, constants: {} }));
  const two = gpu.kernel({ ...source, constants: { value: 2 } });
  assert.is.not(two, gpu.kernel(source));
  assert.is(two, gpu.kernel({ ...source, constants: { value: 2 } }));
});

test('a forced software adapter is found by a fresh process', () => {
  // In a fresh process: Dawn refuses a first forceFallbackAdapter request before any other.
  const adapterModule = fileURLToPath(new URL('../../src/gpu/adapter.js', import.meta.url));
  const nodeGpuModule = fileURLToPath(new URL('../../src/node/gpu.js', import.meta.url));
  const script = `const { chooseAdapter } = await import(${JSON.stringify(adapterModule)}); const { nodeGpu } = await import(${JSON.stringify(nodeGpuModule)}); ` +
    `console.log((await chooseAdapter(nodeGpu(), 'software')).kind); process.exit(0);`;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.is(result.stdout.trim(), 'software', result.stderr);
});

test('SIMBERT_ADAPTER is parsed strictly', () => {
  assert.is(adapterPreferenceFromEnv({}), 'auto');
  assert.is(adapterPreferenceFromEnv({ SIMBERT_ADAPTER: 'software' }), 'software');
  assert.is(adapterPreferenceFromEnv({ SIMBERT_ADAPTER: 'hardware' }), 'hardware');
  assert.throws(() => adapterPreferenceFromEnv({ SIMBERT_ADAPTER: 'cpu' }), /must be 'software', 'hardware' or 'auto'/);
});

test('no leak: bytes in use return to the same value over 100 forward+backward+release iterations', async () => {
  const [rows, hidden, vocab] = [12, 32, 50];
  const table = Tensor.fromArray(randomArray(vocab * hidden, 1, 0.1), [vocab, hidden], { requiresGrad: true });
  const weight = Tensor.fromArray(randomArray(hidden * hidden, 2, 0.1), [hidden, hidden], { requiresGrad: true });
  const bias = Tensor.fromArray(randomArray(hidden, 3), [hidden], { requiresGrad: true });
  const gamma = Tensor.fromArray(randomArray(hidden, 4), [hidden], { requiresGrad: true });
  const beta = Tensor.fromArray(randomArray(hidden, 5), [hidden], { requiresGrad: true });
  const params = [table, weight, bias, gamma, beta];
  const step = (i: number) => {
    scope(() => {
      const ids = Array.from({ length: rows }, (_, t) => (t * 7 + i) % vocab);
      const h = linear(embedding(table, ids, [rows]), weight, bias, 'gelu');
      const loss = mean(softmax(layerNorm(h, gamma, beta, 1e-12)));
      backward(loss);
    });
    for (const p of params) {
      p.grad?.release();
      p.grad = null;
    }
  };
  step(0);
  await gpu.sync();
  const baseline = gpu.pool.snapshot().bytesInUse;
  for (let i = 1; i <= 100; i++) step(i);
  await gpu.sync();
  const after = gpu.pool.snapshot();
  assert.is(after.bytesInUse, baseline, `bytes in use grew from ${baseline} to ${after.bytesInUse}`);
  for (const p of params) p.release();
});

test.run();
