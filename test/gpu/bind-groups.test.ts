import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BindGroupCache } from '../../src/gpu/bind-groups.js';

/** A device whose bind groups are numbered in the order they are made. */
function countingDevice(): { device: GPUDevice; made: () => number } {
  let made = 0;
  const device = { createBindGroup: () => ({ made: ++made }) } as unknown as GPUDevice;
  return { device, made: () => made };
}

const layout = (name: string) => ({ label: name }) as unknown as GPUBindGroupLayout;
const buffer = (name: string) => ({ label: name }) as unknown as GPUBuffer;
const view = (name: string) => ({ label: name }) as unknown as GPUTextureView;

test('a bind group is made once for the same layout and resources, again for any other', () => {
  const { device, made } = countingDevice();
  const cache = new BindGroupCache(device);
  const [first, second] = [layout('first'), layout('second')];
  const [a, b, uniforms] = [buffer('a'), buffer('b'), buffer('uniforms')];
  const texture = view('texture');
  const entries = (x: GPUBuffer, size = 64): GPUBindGroupEntry[] => [
    { binding: 0, resource: { buffer: x, size } },
    { binding: 1, resource: texture },
    { binding: 2, resource: { buffer: uniforms, size: 16 } },
  ];
  const group = cache.get(first, entries(a), 'k');
  assert.is(cache.get(first, entries(a), 'k'), group, 'same layout and resources');
  assert.is(made(), 1);
  for (const other of [entries(b), entries(a, 128)]) assert.is.not(cache.get(first, other, 'k'), group);
  assert.is.not(cache.get(second, entries(a), 'k'), group, 'another layout');
  const otherView: GPUBindGroupEntry[] = [entries(a)[0], { binding: 1, resource: view('texture') }, entries(a)[2]];
  assert.is.not(cache.get(first, otherView, 'k'), group, 'another texture view');
  assert.is(made(), 5);
});

test('the cache empties itself when it holds 4096 groups, and makes them again', () => {
  const { device, made } = countingDevice();
  const cache = new BindGroupCache(device);
  const shared = layout('kernel');
  const buffers = Array.from({ length: 4097 }, (_, i) => buffer(`b${i}`));
  const entries = (x: GPUBuffer): GPUBindGroupEntry[] => [{ binding: 0, resource: { buffer: x } }];
  const groups = buffers.map((x) => cache.get(shared, entries(x), 'k'));
  assert.is(made(), 4097);
  assert.is(cache.get(shared, entries(buffers[4096]), 'k'), groups[4096], 'the newest group is kept');
  assert.is.not(cache.get(shared, entries(buffers[0]), 'k'), groups[0], 'the oldest was dropped');
  assert.is(made(), 4098);
});

test.run();
