import type { Gpu } from '../gpu/device.js';
import { elementForms, FLAT_INDEX, grid1d, ROW_INDEX, rowGrid, WORKGROUP_SIZE, type ElementType, type PerElementSources } from './common.js';

/**
 * How the row reductions (LayerNorm) and column sums (bias and LayerNorm parameter gradients)
 * spread their work. 'invocation': one invocation per row or column, looping over the other axis;
 * on lavapipe, where a workgroup's start costs about as much as its work, that is the cheapest.
 * 'workgroup': a workgroup per row (LayerNorm) or per 16 columns split over 16 row lanes (column
 * sums), partial sums combined in workgroup memory; on an H200 the 'invocation' forms left the GPU
 * nearly idle (the seed step's 21 column sums: 12.6 % of its kernel time, its bias gradients run
 * on 3 workgroups). Both forms give the same sums up to rounding; each keeps one fixed order.
 */
export type ReductionShape = 'invocation' | 'workgroup';

let forcedShape: ReductionShape | null = null;

/** Forces one form for every later reduction (null: the per-adapter choice). For tests. */
export function setReductionShape(shape: ReductionShape | null): void {
  forcedShape = shape;
}

/** The form reductions on this GPU use now: 'workgroup' on hardware adapters, else 'invocation'. */
export function reductionShape(gpu: Gpu): ReductionShape {
  return forcedShape ?? (gpu.adapterKind === 'hardware' ? 'workgroup' : 'invocation');
}

/** Both reduction shapes' kernels for both element types; the 'workgroup' ones are named `${name}Workgroup`. */
export function reductionForms(name: string, wgsl: (element: ElementType, shape: ReductionShape) => string): Record<ReductionShape, PerElementSources> {
  return {
    invocation: elementForms(name, (element) => wgsl(element, 'invocation')),
    workgroup: elementForms(`${name}Workgroup`, (element) => wgsl(element, 'workgroup')),
  };
}

/** Columns per workgroup, and row lanes per column, of the 'workgroup' column sums. */
const COLUMNS = 16;
const ROW_LANES = 16;

/** A named column sum: `term` is its summand, in terms of the row r, the column c and i = r * params.cols + c. */
export interface ColumnSum {
  name: string;
  term: string;
}

/**
 * WGSL entry point: for each column c < params.cols, the sums over rows r < params.rows of each
 * `sums` term (variables of the element type named after them), then `finish` (statements that
 * write them; c is in bounds there). Dispatch with columnSumsGrid.
 */
export function columnSumsWgsl(element: ElementType, shape: ReductionShape, sums: ColumnSum[], finish: string): string {
  const zero = sums.map(({ name }) => `var ${name} = ${element}(0.0);`).join(' ');
  const add = sums.map(({ name, term }) => `${name} += ${term};`).join(' ');
  if (shape === 'invocation') {
    return /* wgsl */ `
@compute @workgroup_size(${WORKGROUP_SIZE})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c = ${FLAT_INDEX};
  if (c >= params.cols) { return; }
  ${zero}
  for (var r = 0u; r < params.rows; r++) { let i = r * params.cols + c; ${add} }
  ${finish}
}`;
  }
  return /* wgsl */ `
${sums.map(({ name }) => `var<workgroup> ${name}_part: array<${element}, ${COLUMNS * ROW_LANES}>;`).join('\n')}

@compute @workgroup_size(${COLUMNS}, ${ROW_LANES})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let c = (${ROW_INDEX}) * ${COLUMNS}u + lid.x;
  ${zero}
  if (c < params.cols) {
    for (var r = lid.y; r < params.rows; r += ${ROW_LANES}u) { let i = r * params.cols + c; ${add} }
  }
  ${sums.map(({ name }) => `${name}_part[lid.y * ${COLUMNS}u + lid.x] = ${name};`).join(' ')}
  workgroupBarrier();
  if (lid.y != 0u || c >= params.cols) { return; }
  for (var l = 1u; l < ${ROW_LANES}u; l++) { ${sums.map(({ name }) => `${name} += ${name}_part[l * ${COLUMNS}u + lid.x];`).join(' ')} }
  ${finish}
}`;
}

/** Workgroups for columnSumsWgsl over `cols` columns (in the kernel's element type). */
export function columnSumsGrid(shape: ReductionShape, cols: number): [number, number] {
  return shape === 'invocation' ? grid1d(cols) : rowGrid(Math.ceil(cols / COLUMNS));
}
