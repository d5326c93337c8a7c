import type { Gpu } from '../gpu/device.js';
import type { PooledBuffer } from '../gpu/pool.js';
import { TEXTURE_WIDTH_SHIFT, type ScratchTexture } from '../gpu/textures.js';
import { FLAT_INDEX, grid1d } from './common.js';
import { epilogueBindings, epilogueWgsl, storeWgsl, type MatmulEpilogue, type MatmulOptions, type MatmulShape } from './matmul-epilogue.js';

/**
 * Matmul for software adapters with subgroups, reading its operands from storage textures.
 *
 * On lavapipe (Mesa 25.0) a storage-buffer load becomes a loop over the SIMD lanes with a bounds
 * check per lane, while a storage-texture load is a gather of four floats per lane with vector
 * bounds handling: a texel costs a fraction of one buffer element. So both operands go to
 * scratch textures first and the matmul reads nothing else. An operand stored in the layout the
 * kernel reads (A as [M, K]; B as [K, N] or [N, K]) is copied as it is (a memcpy on lavapipe)
 * when K is a multiple of the k block; otherwise a pack pass writes op(x) zero-padded in the
 * plain layout (a transposed A is always packed: reading it natively was 2-3x slower).
 *
 * One workgroup is one subgroup of S lanes and owns a TILE_ROWS x 4S output tile: lane l
 * accumulates four columns (one B texel per k-step) for every row. Per block of 4S k-steps lane l
 * loads the texel of k-steps kb + 4l .. +3 of every row of A, and subgroupShuffle hands every
 * lane the ones it needs. Workgroups walk ROW_GROUP row blocks down each column strip before
 * moving on, so the strip of B they share stays in cache (this matters at N = 13584).
 * Rows of A past M and columns of B past N are read but never stored, so they need no padding;
 * k-steps past K must be zero in both operands.
 */

const TILE_ROWS = 32;
const ROW_GROUP = 16;
const TEXEL_MASK = `${(1 << TEXTURE_WIDTH_SHIFT) - 1}u`;

function texelCoords(index: string): string {
  return `vec2u(${index} & ${TEXEL_MASK}, ${index} >> ${TEXTURE_WIDTH_SHIFT}u)`;
}

/**
 * How the operands reach the textures. A is always read in the plain layout (texel rows along
 * k): copied when stored so and K is a multiple of the k block, else packed. B is copied when
 * K needs no padding and its rows are whole texels, and then read natively when transposed.
 */
interface TextureLayout {
  copyA: boolean;
  copyB: boolean;
  /** B is read stored [N, K] (texel rows along k). */
  transB: boolean;
  /** K as the kernel loops over it: a multiple of the k block, zero past the real K. */
  k: number;
  /** texels per row of B's texture (A's is k / 4) */
  bRow: number;
  aTexels: number;
  bTexels: number;
}

function layoutFor(shape: MatmulShape, s: number): TextureLayout {
  const { batch, m, n } = shape;
  const block = 4 * s;
  const k = Math.ceil(shape.k / block) * block;
  const aligned = k === shape.k;
  const copyA = aligned && !shape.transA;
  const copyB = aligned && (!!shape.transB || n % 4 === 0);
  const transB = copyB && !!shape.transB;
  const bRow = transB ? k / 4 : Math.ceil(n / 4);
  return { copyA, copyB, transB, k, bRow, aTexels: batch * m * (k / 4), bTexels: batch * (transB ? n : k) * bRow };
}

function dispatchSize(shape: MatmulShape, s: number): [number, number, number] {
  const rowBlocks = Math.ceil(shape.m / TILE_ROWS);
  return [ROW_GROUP * Math.ceil(shape.n / (4 * s)), Math.ceil(rowBlocks / ROW_GROUP), shape.batch];
}

/** Whether this problem fits the scratch textures and dispatch limits (else use another version). */
export function textureMatmulFits(gpu: Gpu, shape: MatmulShape, s: number): boolean {
  const layout = layoutFor(shape, s);
  const maxGroups = gpu.device.limits.maxComputeWorkgroupsPerDimension;
  return Math.max(layout.aTexels, layout.bTexels) <= gpu.textures.maxTexels && Math.max(...dispatchSize(shape, s)) <= maxGroups;
}

function packWgsl(transposed: boolean): string {
  const element = transposed ? 'src[base + c * params.rows + r]' : 'src[base + r * params.cols + c]';
  return /* wgsl */ `
struct Params { rows: u32, cols: u32, rows_pad: u32, cols4: u32, stride: u32, texels: u32 }
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var dst: texture_storage_2d<rgba32float, write>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = ${FLAT_INDEX};
  if (t >= params.texels) { return; }
  let c4 = t % params.cols4;
  let row_index = t / params.cols4;
  let r = row_index % params.rows_pad;
  let base = (row_index / params.rows_pad) * params.stride;
  var v = vec4f(0.0);
  if (r < params.rows) {
    for (var q = 0u; q < 4u; q++) {
      let c = c4 * 4u + q;
      if (c < params.cols) { v[q] = ${element}; }
    }
  }
  textureStore(dst, ${texelCoords('t')}, v);
}`;
}

/**
 * Records the packing of op(x) (logically [rows, cols] per batch entry, stored transposed when
 * `transposed`) into a scratch texture: rowsPad rows of cols4 texels per entry, zero beyond.
 */
function pack(gpu: Gpu, x: PooledBuffer, slot: string, rows: number, cols: number, transposed: boolean, batch: number, rowsPad: number, cols4: number): ScratchTexture {
  const texels = batch * rowsPad * cols4;
  const texture = gpu.textures.acquire(slot, texels);
  const kernel = gpu.kernel({ name: 'matmul-pack', wgsl: packWgsl(transposed) });
  gpu.dispatch(kernel, { src: x, dst: texture, params: { rows, cols, rows_pad: rowsPad, cols4, stride: rows * cols, texels } }, grid1d(texels));
  return texture;
}

function copied(gpu: Gpu, x: PooledBuffer, slot: string, texels: number): ScratchTexture {
  const texture = gpu.textures.acquire(slot, texels);
  gpu.copyToTexture(x, texture, texels);
  return texture;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

const COMPONENTS = ['x', 'y', 'z', 'w'];

/** WGSL of one quad of k-steps: b0..b3 (B at k-steps kq + s, the lane's four columns), then the FMAs. */
function quadWgsl(transB: boolean): string {
  const lines: string[] = [];
  if (transB) {
    lines.push('      let bi = b_first + kq / 4u;');
    for (const q of range(4)) lines.push(`      let bt${q} = texel(tb, bi + ${q}u * params.b_row);`);
    for (const s of range(4)) lines.push(`      let b${s} = vec4f(${range(4).map((q) => `bt${q}.${COMPONENTS[s]}`).join(', ')});`);
  } else {
    lines.push('      let bi = b_first + kq * params.b_row;');
    for (const s of range(4)) lines.push(`      let b${s} = texel(tb, bi + ${s}u * params.b_row);`);
  }
  for (const i of range(TILE_ROWS)) {
    const fmas = COMPONENTS.map((c, s) => `acc${i} = fma(vec4f(av.${c}), b${s}, acc${i});`).join(' ');
    lines.push(`      { let av = subgroupShuffle(al${i}, t); ${fmas} }`);
  }
  return lines.join('\n');
}

function matmulWgsl(v: MatmulOptions, transB: boolean, s: number): string {
  const rows = range(TILE_ROWS);
  const bFirst = transB ? 'b_batch + c4 * 4u * params.b_row' : 'b_batch + c4';
  const store = (i: number) => COMPONENTS.map((c, q) => `  { let row = row0 + ${i}u; let col = c4 * 4u + ${q}u;
    if (row < params.m && col < params.n) { ${storeWgsl(v, `acc${i}.${c}`)} } }`).join('\n');
  // The early return depends on the workgroup only: a workgroup is one subgroup, so it is uniform there.
  return /* wgsl */ `enable subgroups;
diagnostic(off, subgroup_uniformity);
struct Params { m: u32, n: u32, k: u32, a_row: u32, b_row: u32, a_texels: u32, b_texels: u32, stride_c: u32, row_blocks: u32 }
@group(0) @binding(0) var ta: texture_storage_2d<rgba32float, read>;
@group(0) @binding(1) var tb: texture_storage_2d<rgba32float, read>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;
${epilogueWgsl(v)}

fn texel(t: texture_storage_2d<rgba32float, read>, i: u32) -> vec4f {
  return textureLoad(t, ${texelCoords('i')});
}

@compute @workgroup_size(${s})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
  let rb = wg.y * ${ROW_GROUP}u + wg.x % ${ROW_GROUP}u;
  if (rb >= params.row_blocks) { return; }
  let row0 = rb * ${TILE_ROWS}u;
  let c4 = (wg.x / ${ROW_GROUP}u) * ${s}u + lane;
  let a_batch = wg.z * params.a_texels;
  let b_batch = wg.z * params.b_texels;
  let a_first = a_batch + row0 * params.a_row + lane;
  let b_first = ${bFirst};
  let c_base = wg.z * params.stride_c;
${rows.map((i) => `  var acc${i} = vec4f(0.0);`).join('\n')}
  for (var kb = 0u; kb < params.k; kb += ${4 * s}u) {
${rows.map((i) => `    let al${i} = texel(ta, a_first + ${i}u * params.a_row + kb / 4u);`).join('\n')}
    for (var t = 0u; t < ${s}u; t++) {
      let kq = kb + t * 4u;
${quadWgsl(transB)}
    }
  }
${rows.map(store).join('\n')}
}`;
}

const sources = new Map<string, string>();

/** Records out = epilogue(opA(a) @ opB(b)); the caller has checked textureMatmulFits. */
export function textureMatmul(gpu: Gpu, a: PooledBuffer, b: PooledBuffer, out: PooledBuffer, shape: MatmulShape, v: MatmulOptions, epilogue: MatmulEpilogue, s: number): void {
  const { batch, m, k, n } = shape;
  const layout = layoutFor(shape, s);
  const ta = layout.copyA ? copied(gpu, a, 'matmul.a', layout.aTexels) : pack(gpu, a, 'matmul.a', m, k, v.transA, batch, m, layout.k / 4);
  const tb = layout.copyB ? copied(gpu, b, 'matmul.b', layout.bTexels) : pack(gpu, b, 'matmul.b', k, n, v.transB, batch, layout.k, layout.bRow);
  const key = `${layout.transB}${v.bias}${v.activation}${s}`;
  let wgsl = sources.get(key);
  if (wgsl === undefined) {
    wgsl = matmulWgsl(v, layout.transB, s);
    sources.set(key, wgsl);
  }
  const kernel = gpu.kernel({ name: 'matmul-texture', wgsl });
  const params = {
    m, n, k: layout.k, a_row: layout.k / 4, b_row: layout.bRow,
    a_texels: layout.aTexels / batch, b_texels: layout.bTexels / batch,
    stride_c: m * n, row_blocks: Math.ceil(m / TILE_ROWS),
  };
  gpu.dispatch(kernel, { ta, tb, out, params, ...epilogueBindings(epilogue) }, dispatchSize(shape, s));
}
