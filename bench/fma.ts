/**
 * The adapter's arithmetic ceiling: a kernel that does nothing but FMAs, eight independent vec4
 * accumulator chains per invocation (lavapipe needs >= 8 independent 8-wide chains to keep its
 * FMA units busy, shared/LAVAPIPE.md), no loads in the loop. Measured in the same run as the
 * figures it is compared with, since this machine's speed drifts between runs.
 */
import { activeGpu } from '../src/autograd/engine.js';
import { median } from './stats.js';

const CHAINS = 8;
const WORKGROUP = 64;
const WORKGROUPS = 256;

const WGSL = /* wgsl */ `
struct Params { iterations: u32, seed: f32 }
@group(0) @binding(0) var<storage, read_write> out: array<vec4f>;
@group(0) @binding(1) var<uniform> params: Params;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let m = vec4f(params.seed);
  let c = vec4f(1.0 - params.seed);
${Array.from({ length: CHAINS }, (_, i) => `  var a${i} = vec4f(f32(gid.x + ${i}u), 1.0, 2.0, 3.0);`).join('\n')}
  for (var i = 0u; i < params.iterations; i++) {
${Array.from({ length: CHAINS }, (_, i) => `    a${i} = fma(a${i}, m, c);`).join('\n')}
  }
  out[gid.x] = ${Array.from({ length: CHAINS }, (_, i) => `a${i}`).join(' + ')};
}`;

export interface FmaResult {
  gflops: number;
  medianMs: number;
  samples: number;
}

/** GFLOP/s of the FMA-only kernel (an FMA counts as two FLOPs), median of `samples` dispatches. */
export async function benchFmaCeiling(samples = 5, iterations = 8192): Promise<FmaResult> {
  const gpu = activeGpu();
  const invocations = WORKGROUP * WORKGROUPS;
  const out = gpu.allocate(invocations * 16, 'fma.out');
  const kernel = gpu.kernel({ name: 'fma-ceiling', wgsl: WGSL });
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
  gpu.release(out);
  const ms = median(times);
  const flops = 2 * 4 * CHAINS * iterations * invocations;
  return { gflops: flops / ms / 1e6, medianMs: ms, samples };
}
