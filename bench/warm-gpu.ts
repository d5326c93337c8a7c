/**
 * A busy GPU before each timed section. A hardware GPU lowers its clocks within seconds of going
 * idle and takes a few steps to raise them again (an H200 read 345 MHz idle, 1980 MHz under load,
 * sampled every 250 ms with nvidia-smi): sections timed right after the CPU-side setup (random
 * weights, models) read their first steps at 50 ms against 13 ms warm, and with 10 samples the
 * median at either. Off (0 ms) by default: lavapipe's clocks are the CPU's.
 */
import { activeGpu } from '../src/autograd/engine.js';
import { matmul } from '../src/kernels/matmul.js';

let warmMs = 0;

/** Milliseconds of GPU work each warmGpu call runs (0: none). */
export function setWarmGpuMs(ms: number): void {
  warmMs = ms;
}

/** Runs products of 1024 x 1024 matrices for the set time. */
export async function warmGpu(): Promise<void> {
  if (warmMs <= 0) return;
  const gpu = activeGpu();
  const size = 1024;
  const [a, b, out] = ['warm.a', 'warm.b', 'warm.out'].map((label) => gpu.allocate(size * size * 4, label));
  gpu.clear(a);
  gpu.clear(b);
  const started = performance.now();
  while (performance.now() - started < warmMs) {
    for (let i = 0; i < 20; i++) matmul(gpu, a, b, out, { batch: 1, m: size, k: size, n: size });
    await gpu.sync();
  }
  for (const buffer of [a, b, out]) gpu.release(buffer);
}
