import Benchmark from 'benchmark';
import { activeGpu } from '../src/autograd/engine.js';
import { matmul, setMatmulVariant, type MatmulVariant } from '../src/kernels/matmul.js';
import { median } from './stats.js';

export const MATMUL_SHAPES: [number, number, number][] = [
  [1024, 768, 768],
  [1024, 768, 3072],
  [1024, 3072, 768],
  [1024, 768, 13584],
];

/** The transposes the model's forward and backward use: x W, dOut^T-style (transA) for dW, dOut W^T (transB) for dX and logits. */
export const TRANSPOSES: [boolean, boolean][] = [[false, false], [true, false], [false, true]];

export interface MatmulResult {
  variant: MatmulVariant;
  m: number;
  k: number;
  n: number;
  transA: boolean;
  transB: boolean;
  medianMs: number;
  gflops: number;
  samples: number;
}

/** Times one matmul dispatch + wait (the round trip is ~60 us, small next to these shapes). */
function timeShape(variant: MatmulVariant, m: number, k: number, n: number, transA: boolean, transB: boolean): Promise<MatmulResult> {
  const gpu = activeGpu();
  const a = gpu.allocate(m * k * 4, 'bench.a');
  const b = gpu.allocate(k * n * 4, 'bench.b');
  gpu.clear(a);
  gpu.clear(b);
  const out = gpu.allocate(m * n * 4, 'bench.out');
  const shape = { batch: 1, m, k, n, transA, transB };
  return new Promise((resolve, reject) => {
    const bench = new Benchmark(`matmul ${m}x${k}x${n}`, {
      defer: true,
      minSamples: 5,
      maxTime: 1.5,
      initCount: 1,
      fn(deferred: { resolve(): void }) {
        setMatmulVariant(variant);
        matmul(gpu, a, b, out, shape);
        setMatmulVariant(null);
        gpu.sync().then(() => deferred.resolve(), reject);
      },
      onComplete() {
        const sampleSeconds = bench.stats.sample;
        const medianSeconds = median(sampleSeconds);
        for (const buffer of [a, b, out]) gpu.release(buffer);
        resolve({ variant, m, k, n, transA, transB, medianMs: medianSeconds * 1e3, gflops: (2 * m * k * n) / medianSeconds / 1e9, samples: sampleSeconds.length });
      },
      onError(event: { target: { error: unknown } }) {
        reject(event.target.error);
      },
    });
    bench.run({ async: true });
  });
}

/** Every shape and transpose for each listed kernel version. */
export async function benchMatmul(variants: MatmulVariant[]): Promise<MatmulResult[]> {
  const results: MatmulResult[] = [];
  const gpu = activeGpu();
  for (const [m, k, n] of MATMUL_SHAPES) {
    for (const [transA, transB] of TRANSPOSES) {
      for (const variant of variants) {
        // Warm-up compiles the pipeline outside the timed samples.
        const warm = [gpu.allocate(m * k * 4, 'warm'), gpu.allocate(k * n * 4, 'warm'), gpu.allocate(m * n * 4, 'warm')];
        setMatmulVariant(variant);
        matmul(gpu, warm[0], warm[1], warm[2], { batch: 1, m: 64, k: 64, n: 64, transA, transB });
        setMatmulVariant(null);
        await gpu.sync();
        for (const buffer of warm) gpu.release(buffer);
        results.push(await timeShape(variant, m, k, n, transA, transB));
      }
    }
  }
  return results;
}
