import type { Gpu } from '../gpu/device.js';
import type { PooledBuffer } from '../gpu/pool.js';
import { elementForms, FLAT_INDEX, grid1d, rowLayout } from './common.js';

/**
 * Embedding gather, and its backward as a deterministic scatter-add grouped by row id. Both
 * move rows of four columns per invocation as vec4s when cols % 4 == 0 (a vec4 load costs far
 * less than four scalar ones on lavapipe); `params.cols` then counts vec4s.
 */

const GATHER = elementForms('embeddingGather', (element) => /* wgsl */ `
struct Params { count: u32, cols: u32, rows: u32 }
@group(0) @binding(0) var<storage, read> table: array<${element}>;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<${element}>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = ${FLAT_INDEX};
  if (i >= params.count * params.cols) { return; }
  let t = i / params.cols;
  let c = i % params.cols;
  let id = min(ids[t], params.rows - 1u);
  out[i] = table[id * params.cols + c];
}`);

/** out[t, :] = table[ids[t], :] for `count` ids into a table of `rows` x `cols`. */
export function embeddingGather(gpu: Gpu, table: PooledBuffer, ids: PooledBuffer, out: PooledBuffer, count: number, rows: number, cols: number): void {
  const { element, width } = rowLayout(cols);
  gpu.dispatch(gpu.kernel(GATHER[element]), { table, ids, out, params: { count, cols: width, rows } }, grid1d(count * width));
}

/**
 * The positions of each distinct id, in CSR form, computed on the host where the ids come from:
 * rowIds[u] is the u-th distinct id, its positions are positions[offsets[u] .. offsets[u+1]).
 */
export interface IdGroups {
  rowIds: Uint32Array;
  offsets: Uint32Array;
  positions: Uint32Array;
}

export function groupIds(ids: ArrayLike<number>): IdGroups {
  const byId = new Map<number, number[]>();
  for (let t = 0; t < ids.length; t++) {
    const list = byId.get(ids[t]);
    if (list) list.push(t);
    else byId.set(ids[t], [t]);
  }
  const rowIds = new Uint32Array(byId.size);
  const offsets = new Uint32Array(byId.size + 1);
  const positions = new Uint32Array(ids.length);
  let u = 0;
  let cursor = 0;
  for (const [id, list] of byId) {
    rowIds[u] = id;
    offsets[u] = cursor;
    positions.set(list, cursor);
    cursor += list.length;
    u++;
  }
  offsets[u] = cursor;
  return { rowIds, offsets, positions };
}

const SCATTER_ADD = elementForms('embeddingScatterAdd', (element) => /* wgsl */ `
struct Params { groups: u32, cols: u32 }
@group(0) @binding(0) var<storage, read> dy: array<${element}>;
@group(0) @binding(1) var<storage, read> row_ids: array<u32>;
@group(0) @binding(2) var<storage, read> offsets: array<u32>;
@group(0) @binding(3) var<storage, read> positions: array<u32>;
@group(0) @binding(4) var<storage, read_write> dtable: array<${element}>;
@group(0) @binding(5) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = ${FLAT_INDEX};
  if (i >= params.groups * params.cols) { return; }
  let u = i / params.cols;
  let c = i % params.cols;
  var total = ${element}(0.0);
  for (var p = offsets[u]; p < offsets[u + 1u]; p++) { total += dy[positions[p] * params.cols + c]; }
  let dst = row_ids[u] * params.cols + c;
  dtable[dst] = dtable[dst] + total;
}`);

/** dtable[id, :] += sum of dy[t, :] over the positions t holding id. Rows not named are untouched. */
export function embeddingScatterAdd(
  gpu: Gpu, dy: PooledBuffer, groups: { rowIds: PooledBuffer; offsets: PooledBuffer; positions: PooledBuffer; count: number },
  dtable: PooledBuffer, cols: number,
): void {
  const { element, width } = rowLayout(cols);
  gpu.dispatch(
    gpu.kernel(SCATTER_ADD[element]),
    { dy, row_ids: groups.rowIds, offsets: groups.offsets, positions: groups.positions, dtable, params: { groups: groups.count, cols: width } },
    grid1d(groups.count * width),
  );
}
