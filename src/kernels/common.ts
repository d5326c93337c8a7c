/** Pieces shared by the WGSL of several kernels, and dispatch geometry helpers. */
import type { Gpu } from '../gpu/device.js';

export const WORKGROUP_SIZE = 64;

/** Workgroups for a 1-D problem of `n` invocations, spread over y when x would overflow. */
export function grid1d(n: number): [number, number] {
  const groups = Math.ceil(n / WORKGROUP_SIZE);
  if (groups <= 65535) return [groups, 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y];
}

/** WGSL: the flat invocation index of a grid1d dispatch (needs `gid` and `nwg` builtins). */
export const FLAT_INDEX = `gid.x + gid.y * nwg.x * ${WORKGROUP_SIZE}u`;

/**
 * WGSL erf with fractional error below 1.2e-7 (the Chebyshev-fitted erfc of Numerical
 * Recipes, section 6.2); BERT's GELU is x * (1 + erf(x / sqrt 2)) / 2.
 */
export const WGSL_GELU = /* wgsl */ `
fn erf_approx(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  let erfc = t * exp(poly);
  return select(erfc - 1.0, 1.0 - erfc, x >= 0.0);
}

fn gelu(x: f32) -> f32 {
  return 0.5 * x * (1.0 + erf_approx(x * 0.70710678118654752));
}

fn gelu_grad(x: f32) -> f32 {
  let cdf = 0.5 * (1.0 + erf_approx(x * 0.70710678118654752));
  let pdf = 0.39894228040143268 * exp(-0.5 * x * x);
  return cdf + x * pdf;
}
`;

/** An elementwise kernel: one invocation per element i < params.n. */
export interface PerElementKernel {
  /** Members of the uniform struct after `n: u32`, e.g. 'alpha: f32'. */
  uniforms?: string;
  /** Read-only f32 arrays, bound first in this order. */
  inputs: string[];
  /** The f32 array written, bound after the inputs (the uniform struct comes last). */
  output: string;
  /** WGSL statements computing element i. */
  body: string;
  /** WGSL functions the body calls. */
  preamble?: string;
}

export function perElementWgsl(kernel: PerElementKernel): string {
  const buffers = [...kernel.inputs.map((name) => `var<storage, read> ${name}: array<f32>;`), `var<storage, read_write> ${kernel.output}: array<f32>;`];
  return /* wgsl */ `
${kernel.preamble ?? ''}
struct Params { n: u32${kernel.uniforms ? `, ${kernel.uniforms}` : ''} }
${buffers.map((declaration, binding) => `@group(0) @binding(${binding}) ${declaration}`).join('\n')}
@group(0) @binding(${buffers.length}) var<uniform> params: Params;

@compute @workgroup_size(${WORKGROUP_SIZE})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = ${FLAT_INDEX};
  if (i >= params.n) { return; }
  ${kernel.body}
}`;
}

/**
 * The adapter's subgroup size when it has the subgroups feature and exactly one size (kernels
 * that unroll over the lanes of a subgroup are compiled for it), else 0. lavapipe: 8.
 */
export function fixedSubgroupSize(gpu: Gpu): number {
  if (!gpu.hasSubgroups) return 0;
  const info = (gpu.device as GPUDevice & { adapterInfo?: { subgroupMinSize?: number; subgroupMaxSize?: number } }).adapterInfo;
  const min = info?.subgroupMinSize ?? 0;
  const max = info?.subgroupMaxSize ?? 0;
  return min === max && min >= 4 && min <= 64 ? min : 0;
}
