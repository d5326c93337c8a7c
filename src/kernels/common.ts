/** Pieces shared by the WGSL of several kernels, and dispatch geometry helpers. */
import type { Gpu, UniformValues } from '../gpu/device.js';
import type { KernelSource } from '../gpu/kernel.js';
import type { PooledBuffer } from '../gpu/pool.js';

export const WORKGROUP_SIZE = 64;

/** Workgroups for one workgroup per row, spread over y when x would overflow (WGSL: ROW_INDEX). */
export function rowGrid(rows: number): [number, number] {
  if (rows <= 65535) return [rows, 1];
  const y = Math.ceil(rows / 65535);
  return [Math.ceil(rows / y), y];
}

/** Workgroups for a 1-D problem of `n` invocations, spread over y when x would overflow. */
export function grid1d(n: number): [number, number] {
  return rowGrid(Math.ceil(n / WORKGROUP_SIZE));
}

/** WGSL: the row of a rowGrid dispatch (needs `wid` and `nwg` builtins); rows past the last can occur. */
export const ROW_INDEX = 'wid.x + wid.y * nwg.x';

/** WGSL: the flat invocation index of a grid1d dispatch (needs `gid` and `nwg` builtins). */
export const FLAT_INDEX = `gid.x + gid.y * nwg.x * ${WORKGROUP_SIZE}u`;

/**
 * Elements each invocation of an elementwise kernel works on, WORKGROUP_SIZE apart so that a
 * workgroup's loads stay contiguous. On lavapipe a workgroup's start costs about as much as moving
 * its 64 vec4s: with 16 to an invocation adding two 7 MB arrays took 4.4 ms instead of 6.4 and
 * AdamW on 7 MB parameters 11.6 instead of 13.1 (one process, variants alternating); 64 gained
 * nothing more, 256 lost on small arrays. On a GPU 16 still leaves a workgroup per 64 KiB.
 */
export const ELEMENTS_PER_INVOCATION = 16;

/** Workgroups for an elementwise kernel over `n` elements (see elementLoop). */
export function elementGrid(n: number): [number, number] {
  return grid1d(Math.ceil(n / ELEMENTS_PER_INVOCATION));
}

/**
 * WGSL: runs `body` for each element index `j` in [0, count) this invocation owns in an
 * elementGrid dispatch. Needs the `wid`, `nwg` and `lid` builtins (ELEMENT_BUILTINS).
 */
export function elementLoop(count: string, body: string): string {
  const span = WORKGROUP_SIZE * ELEMENTS_PER_INVOCATION;
  return /* wgsl */ `let start = (wid.x + wid.y * nwg.x) * ${span}u + lid;
  let end = min(start + ${span}u, ${count});
  for (var j = start; j < end; j += ${WORKGROUP_SIZE}u) {
    ${body}
  }`;
}

/** WGSL: the entry point parameters elementLoop needs. */
export const ELEMENT_BUILTINS =
  '@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32';

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

/** What one invocation of an elementwise kernel works on: one f32, or four adjacent ones as a vec4f. */
export type ElementType = 'f32' | 'vec4f';

/** An elementwise kernel on elements i = params.first + j, j < params.n (ELEMENTS_PER_INVOCATION to an invocation). */
export interface PerElementKernel {
  /** Members of the uniform struct after `n: u32, first: u32`, e.g. 'alpha: f32'. */
  uniforms?: string;
  /** Read-only arrays of the element type, bound first in this order. */
  inputs: string[];
  /** Read-only f32 arrays whatever the element type (read at fixed indices), bound after the inputs. */
  scalarInputs?: string[];
  /** The array written, bound after the inputs (the uniform struct comes last). */
  output: string;
  /** WGSL statements computing element i, in terms of the element type. */
  body: (element: ElementType) => string;
  /** WGSL functions the body calls. */
  preamble?: string;
}

function perElementWgsl(kernel: PerElementKernel, element: ElementType): string {
  const buffers = [
    ...kernel.inputs.map((name) => `var<storage, read> ${name}: array<${element}>;`),
    ...(kernel.scalarInputs ?? []).map((name) => `var<storage, read> ${name}: array<f32>;`),
    `var<storage, read_write> ${kernel.output}: array<${element}>;`,
  ];
  return /* wgsl */ `
${kernel.preamble ?? ''}
struct Params { n: u32, first: u32${kernel.uniforms ? `, ${kernel.uniforms}` : ''} }
${buffers.map((declaration, binding) => `@group(0) @binding(${binding}) ${declaration}`).join('\n')}
@group(0) @binding(${buffers.length}) var<uniform> params: Params;

@compute @workgroup_size(${WORKGROUP_SIZE})
fn main(${ELEMENT_BUILTINS}) {
  ${elementLoop('params.n', `let i = params.first + j;
    ${kernel.body(element)}`)}
}`;
}

/** The two compiled forms of a kernel: `name4` over vec4s, `name` over f32s. */
export type PerElementSources = Record<ElementType, KernelSource>;

/** f32 elements in one element of each type. */
export const LANES: Record<ElementType, number> = { f32: 1, vec4f: 4 };

/** Both forms of a kernel whose WGSL is generated for an element type. */
export function elementForms(name: string, wgsl: (element: ElementType) => string): PerElementSources {
  return { vec4f: { name: `${name}4`, wgsl: wgsl('vec4f') }, f32: { name, wgsl: wgsl('f32') } };
}

/** Rows of `cols` f32s are read as vec4s when whole ones fit, else as f32s; `width` is in that unit. */
export function rowLayout(cols: number): { element: ElementType; width: number } {
  const element = cols % 4 === 0 ? 'vec4f' : 'f32';
  return { element, width: cols / LANES[element] };
}

export function perElementKernels(name: string, kernel: PerElementKernel): PerElementSources {
  return elementForms(name, (element) => perElementWgsl(kernel, element));
}

/**
 * WGSL applying `f` to each component of `value`, an expression of the element type: `f`
 * gets an f32 component and its flat element index (i for f32; 4i + c for component c of vec4 i).
 */
export function componentwise(element: ElementType, value: string, f: (component: string, index: string) => string): string {
  if (element === 'f32') return f(value, 'i');
  return `vec4f(${['x', 'y', 'z', 'w'].map((c, k) => f(`${value}.${c}`, `4u * i + ${k}u`)).join(', ')})`;
}

/**
 * Runs an elementwise kernel over n elements: four per invocation where whole vec4s fit (a vec4
 * load costs far less than four scalar ones on lavapipe), then the last n % 4 one by one; all one
 * by one when `vectorise` is false. `uniforms` gets the element type the dispatch counts in.
 */
export function dispatchPerElement(
  gpu: Gpu,
  kernels: PerElementSources,
  buffers: Record<string, PooledBuffer>,
  n: number,
  uniforms: (element: ElementType) => UniformValues = () => ({}),
  vectorise = true,
): void {
  const quads = vectorise ? Math.floor(n / 4) : 0;
  if (quads > 0) gpu.dispatch(gpu.kernel(kernels.vec4f), { ...buffers, params: { ...uniforms('vec4f'), n: quads, first: 0 } }, elementGrid(quads));
  const rest = n - 4 * quads;
  if (rest > 0) gpu.dispatch(gpu.kernel(kernels.f32), { ...buffers, params: { ...uniforms('f32'), n: rest, first: 4 * quads } }, elementGrid(rest));
}

/**
 * The adapter's subgroup size when it has the subgroups feature and exactly one size (kernels
 * that unroll over the lanes of a subgroup are compiled for it), else 0. lavapipe: 8.
 */
export function fixedSubgroupSize(gpu: Gpu): number {
  return gpu.capabilities.subgroupSize;
}

/*
 * Why kernels move whole rows through staging loops. lavapipe (Mesa 25, LLVM 15) compiles a kernel
 * in a time that grows faster than the number of buffer accesses in it (8 unrolled vec4f loads
 * compiled in 0.4-0.6 s, 32 in 3.6-4.4 s, 96 in 24 s; every per-lane access is a loop over the
 * lanes), and NIR unrolls any loop of a constant count. So a kernel that loads or stores a row of
 * `count` elements does it in a loop to `bound`, a u32 expression from the uniforms equal to `count`
 * at run time that the compiler cannot see through, via a staging array; the arrays its hot loop
 * reads are indexed by constants only and stay in registers.
 */

/** WGSL block: element i of a row is source(c) at c = i, handed to assign(i, value) for each i < count (see above). */
export function stagedRowLoad(type: string, count: number, bound: string, source: (c: string) => string, assign: (i: number, value: string) => string): string {
  const assignments = Array.from({ length: count }, (_, i) => assign(i, `staged[${i}]`)).join(' ');
  return `{ var staged: array<${type}, ${count}>;
    for (var c = 0u; c < ${bound}; c++) { staged[c] = ${source('c')}; }
    ${assignments} }`;
}

/** WGSL block: target(c) = value(i) at c = i for each i < count (see above). */
export function stagedRowStore(type: string, count: number, bound: string, target: (c: string) => string, value: (i: number) => string): string {
  const values = Array.from({ length: count }, (_, i) => `staged[${i}] = ${value(i)};`).join(' ');
  return `{ var staged: array<${type}, ${count}>;
    ${values}
    for (var c = 0u; c < ${bound}; c++) { ${target('c')} = staged[c]; } }`;
}
