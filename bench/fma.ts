/**
 * The adapter's arithmetic ceiling: kernels that do nothing but FMAs on independent vec4
 * accumulator chains, no loads in the loop; the fastest chain count is the ceiling. Measured in
 * the same run as the figures it is compared with, since this machine's speed drifts between runs.
 *
 * What lavapipe makes of such a loop (read from GALLIVM_DEBUG=asm, Mesa 25.0, LLVM 15): every
 * WGSL float is one 8-lane ymm register; fma() and `a * m + c` alike become a multiply and an
 * add; and the loop runs under an execution mask, so each pass ends with a blend per accumulator
 * register plus the counter's mask bookkeeping. With one FMA per chain per pass that overhead
 * halved the measured rate, to below what our matmul reaches (its inner loop does 128 vec4 FMAs
 * per pass), so every kernel here repeats its body to FMAS_PER_PASS vec4 FMAs per pass. Eight
 * vec4 chains are 32 ymm registers before the constants and spill; one is too few for the
 * multiply-then-add latency; two ran fastest on this workplace's Xeon, four slowest.
 */
import { activeGpu } from '../src/autograd/engine.js';
import { median } from './stats.js';

const CHAIN_COUNTS = [2, 4, 8];
/** vec4 FMAs per loop pass, all chains together */
const FMAS_PER_PASS = 64;
const WORKGROUP = 64;
const WORKGROUPS = 256;

function wgsl(chains: number): string {
  const each = (line: (i: number) => string) => Array.from({ length: chains }, (_, i) => line(i)).join('\n');
  const pass = Array.from({ length: FMAS_PER_PASS / chains }, () => each((i) => `    a${i} = fma(a${i}, m, c);`)).join('\n');
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
${pass}
  }
  out[gid.x] = ${Array.from({ length: chains }, (_, i) => `a${i}`).join(' + ')};
}`;
}

export interface FmaResult {
  gflops: number;
  /** vec4 chains per invocation of the fastest kernel */
  chains: number;
  /** vec4 FMAs per loop pass in every kernel */
  fmasPerPass: number;
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
  const iterations = Math.round(flopsPerInvocation / (2 * 4 * FMAS_PER_PASS));
  for (const chains of CHAIN_COUNTS) {
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
    byChains.push({ chains, gflops: (2 * 4 * FMAS_PER_PASS * iterations * invocations) / median(times) / 1e6 });
  }
  gpu.release(out);
  const best = byChains.reduce((a, b) => (b.gflops > a.gflops ? b : a));
  return { gflops: best.gflops, chains: best.chains, fmasPerPass: FMAS_PER_PASS, byChains, samples };
}
