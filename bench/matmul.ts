import Benchmark from 'benchmark';
import { activeGpu } from '../src/autograd/engine.js';
import { matmul } from '../src/kernels/matmul.js';
import { median } from './stats.js';

export const MATMUL_SHAPES: [number, number, number][] = [
  [1024, 768, 768],
  [1024, 768, 3072],
  [1024, 3072, 768],
  [1024, 768, 13584],
];

export interface MatmulResult {
  m: number;
  k: number;
  n: number;
  medianMs: number;
  gflops: number;
  samples: number;
}

function fill(length: number, seed: number): Float32Array {
  let state = seed;
  return Float32Array.from({ length }, () => ((state = (state * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5);
}

/** Times one matmul dispatch + wait (the round trip is ~60 us, small next to these shapes). */
function timeShape(m: number, k: number, n: number): Promise<MatmulResult> {
  const gpu = activeGpu();
  const a = gpu.upload(fill(m * k, 1), 'bench.a');
  const b = gpu.upload(fill(k * n, 2), 'bench.b');
  const out = gpu.allocate(m * n * 4, 'bench.out');
  return new Promise((resolve, reject) => {
    const bench = new Benchmark(`matmul ${m}x${k}x${n}`, {
      defer: true,
      minSamples: 5,
      maxTime: 4,
      initCount: 1,
      fn(deferred: { resolve(): void }) {
        matmul(gpu, a, b, out, { batch: 1, m, k, n });
        gpu.sync().then(() => deferred.resolve(), reject);
      },
      onComplete() {
        const sampleSeconds = bench.stats.sample;
        const medianSeconds = median(sampleSeconds);
        for (const buffer of [a, b, out]) gpu.release(buffer);
        resolve({ m, k, n, medianMs: medianSeconds * 1e3, gflops: (2 * m * k * n) / medianSeconds / 1e9, samples: sampleSeconds.length });
      },
      onError(event: { target: { error: unknown } }) {
        reject(event.target.error);
      },
    });
    bench.run({ async: true });
  });
}

export async function benchMatmul(): Promise<MatmulResult[]> {
  const results: MatmulResult[] = [];
  for (const [m, k, n] of MATMUL_SHAPES) {
    const gpu = activeGpu();
    // Warm-up compiles the pipeline outside the timed samples.
    const warm = [gpu.allocate(m * k * 4, 'warm'), gpu.allocate(k * n * 4, 'warm'), gpu.allocate(m * n * 4, 'warm')];
    matmul(gpu, warm[0], warm[1], warm[2], { batch: 1, m, k, n });
    await gpu.sync();
    for (const buffer of warm) gpu.release(buffer);
    results.push(await timeShape(m, k, n));
  }
  return results;
}
