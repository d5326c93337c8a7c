import type { Gpu } from '../gpu/device.js';
import type { PooledBuffer } from '../gpu/pool.js';
import { rowLayout, type ElementType } from './common.js';
import { columnSumsGrid, columnSumsWgsl, reductionForms, reductionShape, type ReductionShape } from './reduction-shape.js';

const SUM_ALL = /* wgsl */ `
struct Params { n: u32, alpha: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

var<workgroup> partial: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
  var total = 0.0;
  for (var i = lid; i < params.n; i += 256u) { total += x[i]; }
  partial[lid] = total;
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
  if (lid == 0u) { out[0] = params.alpha * partial[0]; }
}`;

/** out[0] = alpha * sum(x): alpha = 1 for a sum, 1/n for a mean. One workgroup; meant for losses. */
export function sumAll(gpu: Gpu, x: PooledBuffer, out: PooledBuffer, n: number, alpha = 1): void {
  gpu.dispatch(gpu.kernel({ name: 'sumAll', wgsl: SUM_ALL }), { x, out, params: { n, alpha } }, [1]);
}

/** Column sums over elements of type `element`: with vec4f each column is four adjacent f32 columns. */
function sumRowsWgsl(element: ElementType, shape: ReductionShape): string {
  return /* wgsl */ `
struct Params { rows: u32, cols: u32, accumulate: u32 }
@group(0) @binding(0) var<storage, read> x: array<${element}>;
@group(0) @binding(1) var<storage, read_write> out: array<${element}>;
@group(0) @binding(2) var<uniform> params: Params;
${columnSumsWgsl(element, shape, [{ name: 'total', term: 'x[i]' }], `if (params.accumulate != 0u) { total += out[c]; }
  out[c] = total;`)}`;
}

const SUM_ROWS = reductionForms('sumRows', sumRowsWgsl);

/** out[c] (+)= sum over r of x[r, c]: the gradient of a broadcast bias. */
export function sumRows(gpu: Gpu, x: PooledBuffer, out: PooledBuffer, rows: number, cols: number, accumulate = false): void {
  const { element, width } = rowLayout(cols);
  const shape = reductionShape(gpu);
  gpu.dispatch(gpu.kernel(SUM_ROWS[shape][element]), { x, out, params: { rows, cols: width, accumulate: accumulate ? 1 : 0 } }, columnSumsGrid(shape, width));
}
