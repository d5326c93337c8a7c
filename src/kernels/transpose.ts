import type { Gpu } from '../gpu/device.js';
import type { PooledBuffer } from '../gpu/pool.js';
import { FLAT_INDEX, grid1d } from './common.js';

const SCALAR = /* wgsl */ `
struct Params { rows: u32, cols: u32 }
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = ${FLAT_INDEX};
  if (i >= params.rows * params.cols) { return; }
  let c = i / params.rows;
  let r = i - c * params.rows;
  dst[i] = src[r * params.cols + c];
}`;

// One 4 x 4 block per invocation: four vec4 loads along the source rows, four vec4 stores along the destination's.
const BLOCKS = /* wgsl */ `
struct Params { rows4: u32, cols4: u32 }
@group(0) @binding(0) var<storage, read> src: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4f>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = ${FLAT_INDEX};
  if (i >= params.rows4 * params.cols4) { return; }
  let r4 = i % params.rows4;
  let c4 = i / params.rows4;
  let first = 4u * r4 * params.cols4 + c4;
  let a = src[first];
  let b = src[first + params.cols4];
  let c = src[first + 2u * params.cols4];
  let d = src[first + 3u * params.cols4];
  let out = 4u * c4 * params.rows4 + r4;
  dst[out] = vec4f(a.x, b.x, c.x, d.x);
  dst[out + params.rows4] = vec4f(a.y, b.y, c.y, d.y);
  dst[out + 2u * params.rows4] = vec4f(a.z, b.z, c.z, d.z);
  dst[out + 3u * params.rows4] = vec4f(a.w, b.w, c.w, d.w);
}`;

/**
 * dst [cols, rows] = transpose of src [rows, cols]. Matrices whose sides are multiples of 4
 * (every BERT kernel) move in 4 x 4 blocks of vec4 loads and stores; others element by element.
 */
export function transpose2d(gpu: Gpu, src: PooledBuffer, dst: PooledBuffer, rows: number, cols: number): void {
  if (rows % 4 === 0 && cols % 4 === 0) {
    const blocks = (rows / 4) * (cols / 4);
    gpu.dispatch(gpu.kernel({ name: 'transpose2d-blocks', wgsl: BLOCKS }), { src, dst, params: { rows4: rows / 4, cols4: cols / 4 } }, grid1d(blocks));
    return;
  }
  gpu.dispatch(gpu.kernel({ name: 'transpose2d', wgsl: SCALAR }), { src, dst, params: { rows, cols } }, grid1d(rows * cols));
}
