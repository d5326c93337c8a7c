import type { Gpu } from '../gpu/device.js';
import type { PooledBuffer } from '../gpu/pool.js';
import { TEXTURE_WIDTH_SHIFT, type ScratchTexture } from '../gpu/textures.js';
import { FLAT_INDEX, grid1d, WGSL_GELU } from './common.js';
import type { MatmulEpilogue, MatmulOptions, MatmulShape } from './matmul-epilogue.js';

/**
 * Matmul for software adapters with subgroups, reading its operands from storage textures.
 *
 * On lavapipe (Mesa 25.0) a storage-buffer load becomes a loop over the SIMD lanes with a bounds
 * check per lane, while a storage-texture load is a gather of four floats per lane with vector
 * bounds handling: a texel costs a fraction of one buffer element. So both operands go to
 * scratch textures first and the matmul reads nothing else. Where the stored rows are whole
 * texels an operand is copied as stored (a memcpy on lavapipe): A as [M, K] or [K, M], B as
 * [K, N] or [N, K], read natively. Anything else is packed by a kernel, zero-padded.
 *
 * One workgroup is one subgroup of S lanes and owns a tile of R rows x 4S columns: lane l
 * accumulates four columns (one B texel per k-step) for every row. Per block of 4S k-steps lane l
 * loads the texel of k-steps kb + 4l .. +3 of every row of A, and subgroupShuffle hands every
 * lane the ones it needs (with 16 lanes A is shared row by row instead: see rowPerLaneA).
 * Workgroups walk ROW_GROUP row blocks down each column strip before moving on, so the strip of B
 * they share stays in cache (this matters at N = 13584).
 * Rows of A past M and columns of B past N are read but never stored, so they need no padding;
 * A texels and B k-steps past K read as zero.
 */

/**
 * Rows per tile: 32, or 20 where that pads M much less (a decoding step's 100 rows: 100 instead
 * of 128 computed). A smaller tile does fewer FMAs per B load, so 32 stays the default.
 */
const TILE_ROWS = 32;
const SMALL_TILE_ROWS = 20;

function tileRowsFor(m: number, s: number): number {
  // With row-per-lane A loads (below) the rows are whole multiples of the lanes: one row per lane is the small tile.
  const small = rowPerLaneA(s) ? s : SMALL_TILE_ROWS;
  const padded = (rows: number) => Math.ceil(m / rows) * rows;
  return padded(small) < 0.9 * padded(TILE_ROWS) ? small : TILE_ROWS;
}

/**
 * How A reaches the lanes. With up to 8 lanes, lane l loads the texel of k-steps kb + 4l .. +3 of
 * every row and subgroupShuffle, with the quad as a loop variable, hands each quad to all lanes.
 * With 16 lanes (lavapipe at LP_NATIVE_VECTOR_WIDTH=512) a shuffle by a variable lane compiles to
 * per-lane code: 1.7 GFLOP/s. There lane l loads, per quad, the texel of rows l, l + S, ..., and
 * subgroupBroadcast, by a constant lane, hands each row to all lanes (37-41 GFLOP/s at 512x768x768
 * against 31 for the shuffle kernel at 8 lanes).
 */
function rowPerLaneA(s: number): boolean {
  return s >= 16 && TILE_ROWS % s === 0;
}
const ROW_GROUP = 8;
const TEXEL_MASK = `${(1 << TEXTURE_WIDTH_SHIFT) - 1}u`;

function texelCoords(index: string): string {
  return `vec2u((${index}) & ${TEXEL_MASK}, (${index}) >> ${TEXTURE_WIDTH_SHIFT}u)`;
}

/**
 * How the operands reach the textures. A is copied and read in its stored layout when stored
 * [M, K] with K a multiple of 4 or [K, M] with M a multiple of 4; else packed plain (texel rows
 * along k, ceil(K/4) texels a row, zero past K). B is copied when its stored rows are whole
 * texels and then read in its stored layout; else packed plain.
 */
interface TextureLayout {
  copyA: boolean;
  /** A is read stored [K, M] (texel rows along m), M a multiple of 4. */
  transA: boolean;
  copyB: boolean;
  /** B is read stored [N, K] (texel rows along k). */
  transB: boolean;
  /** texels per row of each texture */
  aRow: number;
  bRow: number;
  aTexels: number;
  bTexels: number;
}

function layoutFor(shape: MatmulShape): TextureLayout {
  const { batch, m, k, n } = shape;
  const copyA = !shape.transA && k % 4 === 0;
  const transA = !!shape.transA && m % 4 === 0;
  const copyB = shape.transB ? k % 4 === 0 : n % 4 === 0;
  const transB = copyB && !!shape.transB;
  const aRow = transA ? m / 4 : Math.ceil(k / 4);
  const bRow = transB ? k / 4 : Math.ceil(n / 4);
  return { copyA, transA, copyB, transB, aRow, bRow, aTexels: batch * (transA ? k : m) * aRow, bTexels: batch * (transB ? n : k) * bRow };
}

function dispatchSize(shape: MatmulShape, s: number): [number, number, number] {
  const rowBlocks = Math.ceil(shape.m / tileRowsFor(shape.m, s));
  return [ROW_GROUP * Math.ceil(shape.n / (4 * s)), Math.ceil(rowBlocks / ROW_GROUP), shape.batch];
}

/** Whether this problem fits the scratch textures and dispatch limits (else use another version). */
export function textureMatmulFits(gpu: Gpu, shape: MatmulShape, s: number): boolean {
  const layout = layoutFor(shape);
  const maxGroups = gpu.device.limits.maxComputeWorkgroupsPerDimension;
  return Math.max(layout.aTexels, layout.bTexels) <= gpu.textures.maxTexels && Math.max(...dispatchSize(shape, s)) <= maxGroups;
}

function packWgsl(transposed: boolean): string {
  const element = transposed ? 'src[base + c * params.rows + r]' : 'src[base + r * params.cols + c]';
  return /* wgsl */ `
struct Params { rows: u32, cols: u32, cols4: u32, stride: u32, texels: u32 }
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var dst: texture_storage_2d<rgba32float, write>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = ${FLAT_INDEX};
  if (t >= params.texels) { return; }
  let c4 = t % params.cols4;
  let row_index = t / params.cols4;
  let r = row_index % params.rows;
  let base = (row_index / params.rows) * params.stride;
  var v = vec4f(0.0);
  for (var q = 0u; q < 4u; q++) {
    let c = c4 * 4u + q;
    if (c < params.cols) { v[q] = ${element}; }
  }
  textureStore(dst, ${texelCoords('t')}, v);
}`;
}

/**
 * Records the packing of op(x) (logically [rows, cols] per batch entry, stored transposed when
 * `transposed`) into a scratch texture: cols4 texels per row, zero past cols.
 */
function pack(gpu: Gpu, x: PooledBuffer, slot: string, rows: number, cols: number, transposed: boolean, batch: number, cols4: number): ScratchTexture {
  const texels = batch * rows * cols4;
  const texture = gpu.textures.acquire(slot, texels);
  const kernel = gpu.kernel({ name: 'matmul-pack', wgsl: packWgsl(transposed) });
  gpu.dispatch(kernel, { src: x, dst: texture, params: { rows, cols, cols4, stride: rows * cols, texels } }, grid1d(texels));
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

/** WGSL loading b0..b3, the lane's four columns at k-steps kq .. kq + 3; B k-steps past K read as zero. */
function bQuadWgsl(transB: boolean, indent: string, kq: string): string[] {
  const lines: string[] = [];
  const bLoad = (index: string, live: string) => `select(vec4f(0.0), texel(tb, ${index}), ${live})`;
  if (transB) {
    // K is a multiple of 4 here: a quad is wholly inside or past K.
    lines.push(`let bi = b_first + ${kq} / 4u;`);
    for (const q of range(4)) lines.push(`let bt${q} = ${bLoad(`bi + ${q}u * params.b_row`, `${kq} < params.k`)};`);
    for (const c of range(4)) lines.push(`let b${c} = vec4f(${range(4).map((q) => `bt${q}.${COMPONENTS[c]}`).join(', ')});`);
  } else {
    lines.push(`let bi = b_first + ${kq} * params.b_row;`);
    for (const c of range(4)) lines.push(`let b${c} = ${bLoad(`bi + ${c}u * params.b_row`, `${kq} + ${c}u < params.k`)};`);
  }
  return lines.map((line) => indent + line);
}

/**
 * WGSL of one block of 4S k-steps from kb: lane l loads the A texel kb/4 + l of every row, then
 * per quad of k-steps kq = kb + 4t the B values b0..b3 (k-steps kq + s, the lane's four columns)
 * and the FMAs. A texels and B k-steps past K read as zero. Every block is masked: one copy of
 * the unrolled block instead of an unmasked one plus a masked one for the last halves the kernel
 * lavapipe compiles (seconds of LLVM per copy), and the selects cost little beside the FMAs.
 * With A stored [K, M] (`transA`) lane l loads, for each of its k-steps kb + 4l + c, the texels of
 * the tile's rows (four rows each), and subgroupShuffle hands quad t's texels to every lane.
 */
function blockWgsl(transA: boolean, transB: boolean, s: number, tileRows: number): string {
  const lines: string[] = [];
  const quads = range(tileRows / 4);
  if (transA) {
    for (const c of range(4)) {
      lines.push(`    let ak${c} = kb + lane * 4u + ${c}u;`);
      for (const q of quads) lines.push(`    let al${c}_${q} = select(vec4f(0.0), texel(ta, a_first + ak${c} * params.a_row + ${q}u), ak${c} < params.k);`);
    }
  } else {
    lines.push('    let a_live = kb / 4u + lane < params.a_row;');
    for (const i of range(tileRows)) lines.push(`    let al${i} = select(vec4f(0.0), texel(ta, a_first + ${i}u * params.a_row + kb / 4u), a_live);`);
  }
  lines.push(`    for (var t = 0u; t < ${s}u; t++) {`, '      let kq = kb + t * 4u;');
  lines.push(...bQuadWgsl(transB, '      ', 'kq'));
  if (transA) {
    for (const c of range(4)) {
      for (const q of quads) {
        const fmas = range(4).map((r) => `acc${4 * q + r} = fma(vec4f(av.${COMPONENTS[r]}), b${c}, acc${4 * q + r});`).join(' ');
        lines.push(`      { let av = subgroupShuffle(al${c}_${q}, t); ${fmas} }`);
      }
    }
  } else {
    for (const i of range(tileRows)) {
      const fmas = COMPONENTS.map((c, q) => `acc${i} = fma(vec4f(av.${c}), b${q}, acc${i});`).join(' ');
      lines.push(`      { let av = subgroupShuffle(al${i}, t); ${fmas} }`);
    }
  }
  lines.push('    }');
  return lines.join('\n');
}

/**
 * WGSL of one quad of k-steps from kb with row-per-lane A loads: lane l loads the A texel of rows
 * l + jS, the B texels of the quad, then the FMAs, each row's A value broadcast from its lane.
 * With A stored [K, M] (`transA`) a texel holds four rows at one k-step instead: lane l loads, for
 * k-step kb + l % 4, the texel of rows 4(l / 4) + jS .. +3, and row i's value at k-step kb + c
 * comes from lane c + 4((i % S) / 4), component i % 4. Every lane index is a constant either way.
 */
function quadWgsl(transA: boolean, transB: boolean, s: number, tileRows: number): string {
  const lines: string[] = [];
  if (transA) {
    lines.push('    let a_live = kb + lane % 4u < params.k;', '    let a_quad = a_first + (kb + lane % 4u) * params.a_row;');
    for (const j of range(tileRows / s)) lines.push(`    let al${j} = select(vec4f(0.0), texel(ta, a_quad + ${(j * s) / 4}u), a_live);`);
  } else {
    lines.push('    let a_live = kb / 4u < params.a_row;');
    for (const j of range(tileRows / s)) lines.push(`    let al${j} = select(vec4f(0.0), texel(ta, a_first + ${j * s}u * params.a_row + kb / 4u), a_live);`);
  }
  lines.push(...bQuadWgsl(transB, '    ', 'kb'));
  const aValue = (i: number, q: number): string => {
    const j = Math.floor(i / s);
    const r = i % s;
    return transA ? `subgroupBroadcast(al${j}.${COMPONENTS[r % 4]}, ${q + 4 * Math.floor(r / 4)}u)` : `subgroupBroadcast(al${j}.${COMPONENTS[q]}, ${r}u)`;
  };
  for (const i of range(tileRows)) {
    const fmas = range(4).map((q) => `acc${i} = fma(vec4f(${aValue(i, q)}), b${q}, acc${i});`).join(' ');
    lines.push(`    { ${fmas} }`);
  }
  return lines.join('\n');
}

/**
 * WGSL storing the lane's four columns of one row (`value`) at `first`, the row's first element.
 * With N a multiple of 4 they are one vec4 (out is then array<vec4f>): a quarter of the per-lane
 * stores, 3-14 % faster at K = 128 (the small configurations' shapes), equal at K = 768.
 */
function rowStoreWgsl(vec4Out: boolean): string {
  if (vec4Out) {
    return `      if (c4 * 4u < params.n) {
        out[first / 4u + c4] = value;
        if (params.gelu != 0u) { act[first / 4u + c4] = vec4f(gelu(value.x), gelu(value.y), gelu(value.z), gelu(value.w)); }
      }`;
  }
  return `      for (var q = 0u; q < 4u; q++) {
        let col = c4 * 4u + q;
        if (col < params.n) {
          out[first + col] = value[q];
          if (params.gelu != 0u) { act[first + col] = gelu(value[q]); }
        }
      }`;
}

function matmulWgsl(transA: boolean, transB: boolean, s: number, tileRows: number, vec4Out: boolean): string {
  const perLane = rowPerLaneA(s);
  const rows = range(tileRows);
  const bFirst = transB ? 'b_batch + c4 * 4u * params.b_row' : 'b_batch + c4';
  // The early return depends on the workgroup only: a workgroup is one subgroup, so it is uniform there.
  return /* wgsl */ `enable subgroups;
diagnostic(off, subgroup_uniformity);
struct Params { m: u32, n: u32, k: u32, a_row: u32, b_row: u32, a_texels: u32, b_texels: u32, stride_c: u32, row_blocks: u32, has_bias: u32, tile_rows: u32, gelu: u32 }
@group(0) @binding(0) var ta: texture_storage_2d<rgba32float, read>;
@group(0) @binding(1) var tb: texture_storage_2d<rgba32float, read>;
@group(0) @binding(2) var<storage, read_write> out: array<${vec4Out ? 'vec4f' : 'f32'}>;
@group(0) @binding(3) var<uniform> params: Params;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> act: array<${vec4Out ? 'vec4f' : 'f32'}>;
${WGSL_GELU}

fn texel(t: texture_storage_2d<rgba32float, read>, i: u32) -> vec4f {
  return textureLoad(t, ${texelCoords('i')});
}

@compute @workgroup_size(${s})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
  let rb = wg.y * ${ROW_GROUP}u + wg.x % ${ROW_GROUP}u;
  if (rb >= params.row_blocks) { return; }
  let row0 = rb * ${tileRows}u;
  let c4 = (wg.x / ${ROW_GROUP}u) * ${s}u + lane;
  let a_batch = wg.z * params.a_texels;
  let b_batch = wg.z * params.b_texels;
  let a_first = a_batch + ${transA ? (perLane ? 'row0 / 4u + lane / 4u' : 'row0 / 4u') : perLane ? '(row0 + lane) * params.a_row' : 'row0 * params.a_row + lane'};
  let b_first = ${bFirst};
  let c_base = wg.z * params.stride_c;
${rows.map((i) => `  var acc${i} = vec4f(0.0);`).join('\n')}
  for (var kb = 0u; kb < params.k; kb += ${perLane ? 4 : 4 * s}u) {
${perLane ? quadWgsl(transA, transB, s, tileRows) : blockWgsl(transA, transB, s, tileRows)}
  }
  // The lane's four columns take the same bias in every row: four loads per lane and tile.
  var bias4 = vec4f(0.0);
  if (params.has_bias != 0u) {
    for (var q = 0u; q < 4u; q++) {
      let col = c4 * 4u + q;
      if (col < params.n) { bias4[q] = bias[col]; }
    }
  }
  // The stores go through a staging array in a loop the compiler cannot unroll (tile_rows is a
  // uniform): 128 unrolled stores were most of the kernel's compile time (see stagedRowLoad in common.ts).
  var staged: array<vec4f, ${tileRows}>;
${rows.map((i) => `  staged[${i}] = acc${i} + bias4;`).join('\n')}
  for (var i = 0u; i < params.tile_rows; i++) {
    let row = row0 + i;
    if (row < params.m) {
      let value = staged[i];
      let first = c_base + row * params.n;
${rowStoreWgsl(vec4Out)}
    }
  }
}`;
}

const sources = new Map<string, string>();

/**
 * Records out = epilogue(opA(a) @ opB(b)); the caller has checked textureMatmulFits. The kernel
 * adds the bias and GELU itself, each switched by a uniform (the epilogue compiled in would make
 * one large kernel per epilogue and layout, each seconds of cold LLVM compile on lavapipe). GELU
 * is applied in the store loop, one copy of it for every row (inlined for every accumulator, it
 * was the slowest kernel of all to compile), storing the pre-activation and its GELU: 5 % faster
 * than a second pass over the stored pre-activation at 512 x 768 x 3072, 13-15 % at 512 x 128 x
 * 512, the same at 512 x 3072 x 768 without GELU.
 */
export function textureMatmul(gpu: Gpu, a: PooledBuffer, b: PooledBuffer, out: PooledBuffer, shape: MatmulShape, v: MatmulOptions, epilogue: MatmulEpilogue, s: number): void {
  const { batch, m, k, n } = shape;
  const layout = layoutFor(shape);
  let ta: ScratchTexture;
  if (layout.copyA || layout.transA) ta = copied(gpu, a, 'matmul.a', layout.aTexels);
  else ta = pack(gpu, a, 'matmul.a', m, k, v.transA, batch, layout.aRow);
  let tb: ScratchTexture;
  if (!layout.copyB) tb = pack(gpu, b, 'matmul.b', k, n, v.transB, batch, layout.bRow);
  else tb = (shape.constantB ? gpu.residentTexture(b, layout.bTexels) : null) ?? copied(gpu, b, 'matmul.b', layout.bTexels);
  const tileRows = tileRowsFor(m, s);
  const vec4Out = n % 4 === 0;
  const key = `${layout.transA} ${layout.transB} ${s} ${tileRows} ${vec4Out}`;
  let wgsl = sources.get(key);
  if (wgsl === undefined) {
    wgsl = matmulWgsl(layout.transA, layout.transB, s, tileRows, vec4Out);
    sources.set(key, wgsl);
  }
  const kernel = gpu.kernel({ name: 'matmul-texture', wgsl });
  // With GELU the biased product goes to the pre-activation buffer, and GELU of it to `out`.
  const activate = epilogue.activation === 'gelu';
  const params = {
    m, n, k, a_row: layout.aRow, b_row: layout.bRow,
    a_texels: layout.aTexels / batch, b_texels: layout.bTexels / batch,
    stride_c: m * n, row_blocks: Math.ceil(m / tileRows), has_bias: epilogue.bias ? 1 : 0, tile_rows: tileRows, gelu: activate ? 1 : 0,
  };
  const bindings = {
    ta, tb, out: activate ? epilogue.preActivation! : out, act: activate ? out : gpu.unwrittenBinding, bias: epilogue.bias ?? gpu.unreadBinding, params,
  };
  gpu.dispatch(kernel, bindings, dispatchSize(shape, s));
}
