/**
 * The adapter's arithmetic ceiling: kernels that do nothing but FMAs on independent vec4
 * accumulator chains, no loads in the loop. How many chains keep the FMA units busy depends on the
 * CPU under lavapipe (latency, registers), and on this workplace's Xeon the 8-chain kernel alone
 * measured less than our matmul's inner loop reaches, so several counts run and the fastest is
 * the ceiling. Measured in the same run as the figures it is compared with, since this machine's
 * speed drifts between runs.
 */
import { activeGpu } from '../src/autograd/engine.js';
import { median } from './stats.js';

const CHAIN_COUNTS = [1, 2, 3, 4, 6, 8];
const WORKGROUP = 64;
const WORKGROUPS = 256;

function wgsl(chains: number): string {
  const each = (line: (i: number) => string) => Array.from({ length: chains }, (_, i) => line(i)).join('\n');
  return /* wgsl */ `
struct Params { iterations: u32, seed: f32 }
@group(0) @binding(0) var<storage, read_write> out: array<vec4f>;
@group(0) @binding(1) var<uniform> params: Params;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let m = vec4f(params.seed);
  let c = vec4f(1.0 - params.seed);
${each((i) => `  var a${i} = vec4f(f32(gid.x + ${i}u), 1.0, 2.0, 3.0);`)}
  for (var i = 0u; i < params.iterations; i++) {
${each((i) => `    a${i} = fma(a${i}, m, c);`)}
  }
  out[gid.x] = ${Array.from({ length: chains }, (_, i) => `a${i}`).join(' + ')};
}`;
}

export interface FmaResult {
  gflops: number;
  /** vec4 chains per invocation of the fastest kernel */
  chains: number;
  /** GFLOP/s of every chain count tried */
  byChains: { chains: number; gflops: number }[];
  samples: number;
}

/** GFLOP/s of an FMA-only kernel (an FMA counts as two FLOPs), median of `samples` dispatches, at its best chain count. */
export async function benchFmaCeiling(samples = 5, flopsPerInvocation = 2 * 4 * 8 * 8192): Promise<FmaResult> {
  const gpu = activeGpu();
  const invocations = WORKGROUP * WORKGROUPS;
  const out = gpu.allocate(invocations * 16, 'fma.out');
  const byChains: { chains: number; gflops: number }[] = [];
  for (const chains of CHAIN_COUNTS) {
    // The same FLOPs for every chain count: fewer chains, more iterations.
    const iterations = Math.round(flopsPerInvocation / (2 * 4 * chains));
    const kernel = gpu.kernel({ name: `fma-ceiling-${chains}`, wgsl: wgsl(chains) });
    const run = () => gpu.dispatch(kernel, { out, params: { iterations, seed: 0.999 } }, [WORKGROUPS]);
    run();
    await gpu.sync();
    const times: number[] = [];
    for (let i = 0; i < samples; i++) {
      const started = performance.now();
      run();
      await gpu.sync();
      times.push(performance.now() - started);
    }
    byChains.push({ chains, gflops: (2 * 4 * chains * iterations * invocations) / median(times) / 1e6 });
  }
  gpu.release(out);
  const best = byChains.reduce((a, b) => (b.gflops > a.gflops ? b : a));
  return { gflops: best.gflops, chains: best.chains, byChains, samples };
}
