import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Gpu } from '../../src/gpu/device.js';
import { transpose2d } from '../../src/kernels/transpose.js';
import { nodeGpu } from '../../src/node/gpu.js';

test('the kernel profiler times every dispatch by kernel name, across submissions, and resets', async () => {
  const gpu = await Gpu.create(nodeGpu(), { adapter: 'software', profileKernels: true });
  const profiler = gpu.profiler!;
  const src = gpu.upload(new Float32Array(64 * 48), 'src');
  const dst = gpu.allocate(64 * 48 * 4, 'dst');
  transpose2d(gpu, src, dst, 64, 48);
  transpose2d(gpu, dst, src, 48, 64);
  gpu.submit();
  transpose2d(gpu, src, dst, 63, 48);
  await gpu.sync();
  const report = await profiler.report();
  assert.equal(report.map((k) => [k.name, k.dispatches]).sort(), [['transpose2d', 1], ['transpose2d-blocks', 2]]);
  assert.ok(report.every((k) => k.milliseconds > 0), JSON.stringify(report));
  profiler.byGrid = true;
  await profiler.reset();
  transpose2d(gpu, src, dst, 64, 48);
  await gpu.sync();
  assert.equal((await profiler.report()).map((k) => k.name), ['transpose2d-blocks (3 x 1 x 1)']);
  gpu.release(src);
  gpu.release(dst);
  gpu.destroy();
});

test('a device opened without profiling has no profiler', async () => {
  const gpu = await Gpu.create(nodeGpu(), { adapter: 'software' });
  assert.is(gpu.profiler, null);
  gpu.destroy();
});

test.run();
