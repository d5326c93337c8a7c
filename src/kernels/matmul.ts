import type { Gpu } from '../gpu/device.js';
import type { PooledBuffer } from '../gpu/pool.js';
import { fixedSubgroupSize } from './common.js';
import { epilogueBindings, epilogueWgsl, storeWgsl, type MatmulEpilogue, type MatmulOptions, type MatmulShape } from './matmul-epilogue.js';
import { textureMatmul, textureMatmulFits } from './matmul-texture.js';

export type { Activation, MatmulEpilogue, MatmulShape } from './matmul-epilogue.js';

/**
 * Batched matmul: out[b] = epilogue(opA(a[b]) @ opB(b[b])), opA(a) logically [M, K] (stored [K, M]
 * when transA), opB(b) logically [K, N] (stored [N, K] when transB). The epilogue optionally adds
 * a bias of N and applies GELU; with GELU the pre-activation is written too, for the backward.
 *
 * Versions (GFLOP/s, median, lavapipe on the 2-core AVX-512 machine, M x K x N = 1024 x 768 x 768,
 * plain / transA / transB; see bench/RESULTS.md for every shape):
 *   1 'register'  register tiles of 4 x 8 outputs per invocation, operands read straight from
 *                 storage. 14.4 / 8.2 / 7.2. Used on software adapters without subgroups.
 *   2 'subgroup'  (software adapters with subgroups but no readable storage textures, and problems
 *                 too large for the texture version) a subgroup of S lanes owns a TM x (S*TN) tile;
 *                 per block of S k-steps each lane loads one A value per row (lane l takes k0 + l)
 *                 and the tile's rows are shared with subgroupBroadcast, while each lane loads its
 *                 own TN B values; accumulators are updated in row sub-blocks across the S steps
 *                 so that their spills stay vector loads/stores. 22-25 on all four bench shapes.
 *                 On lavapipe (Mesa 25.0) every storage-buffer load is compiled to a per-lane loop
 *                 (~15 instructions per lane and element, bounds check included), so speed is set
 *                 by elements loaded per FMA.
 *   3 'texture'   (default on software adapters with subgroups and readable storage textures) the
 *                 operands are copied or packed into storage textures, whose loads lavapipe
 *                 compiles to real gathers, and a subgroup owns a 32 x 4S tile (matmul-texture.ts).
 *                 62-82 on the four bench shapes and three transposes, copies and packing included.
 *   4 'tiled'     (default on hardware adapters) the classic workgroup-memory tiled kernel: 64 x 64
 *                 output tile, 32-deep k slices staged in workgroup memory (16 where the device's
 *                 workgroup memory is 16 KiB), 4 x 4 per invocation. On an H200 (Dawn on Vulkan):
 *                 9.6 / 9.4 / 9.5 TFLOP/s, PyTorch's cuBLAS 23.0 in float32 (bench/gpu/RESULTS.md).
 *                 On lavapipe workgroup memory costs as much as a global load (~9 GFLOP/s).
 * setMatmulVariant (in Node also SIMBERT_MATMUL=register|subgroup|texture|tiled) overrides the per-adapter choice.
 */

export type MatmulVariant = 'register' | 'subgroup' | 'texture' | 'tiled';
export const MATMUL_VARIANTS: readonly MatmulVariant[] = ['register', 'subgroup', 'texture', 'tiled'];

let forcedVariant: MatmulVariant | null = null;

/** Forces one kernel version for every later matmul (null: the per-adapter choice). For tests and benchmarks. */
export function setMatmulVariant(variant: MatmulVariant | null): void {
  forcedVariant = variant;
}

/** The kernel version a matmul on this GPU uses now. */
export function matmulVariant(gpu: Gpu): MatmulVariant {
  const chosen = forcedVariant;
  if ((chosen === 'subgroup' || chosen === 'texture') && fixedSubgroupSize(gpu) === 0) {
    throw new Error(`matmul variant "${chosen}" needs the subgroups feature with one fixed subgroup size`);
  }
  if (chosen === 'texture' && !gpu.readableStorageTextures) {
    throw new Error('matmul variant "texture" needs WGSL read-only storage textures (readonly_and_readwrite_storage_textures)');
  }
  if (chosen) return chosen;
  return chooseMatmulVariant({
    kind: gpu.adapterKind,
    subgroupSize: fixedSubgroupSize(gpu),
    readableStorageTextures: gpu.readableStorageTextures,
    maxInvocations: gpu.device.limits.maxComputeInvocationsPerWorkgroup,
  });
}

/** What the matmul version is chosen from: what the adapter reports, never its name. */
export interface MatmulChoiceInput {
  kind: 'hardware' | 'software';
  /** Fixed subgroup size, 0 without subgroups (see fixedSubgroupSize). */
  subgroupSize: number;
  readableStorageTextures: boolean;
  maxInvocations: number;
}

/**
 * The version for an adapter: 'tiled' on hardware (16 x 16 invocations), 'register' (8 x 8) where
 * that does not fit; on a software adapter the subgroup versions when its subgroups have one fixed
 * size and a subgroup-kernel workgroup (the subgroup size x the tile's subgroups) fits, the texture
 * one when WGSL can read storage textures, else 'register'.
 */
export function chooseMatmulVariant(input: MatmulChoiceInput): MatmulVariant {
  if (input.kind === 'hardware') return input.maxInvocations >= 256 ? 'tiled' : 'register';
  const subgroupsFit = input.subgroupSize > 0 && input.subgroupSize * subgroupTile.sgm * subgroupTile.sgn <= input.maxInvocations;
  if (!subgroupsFit) return 'register';
  return input.readableStorageTextures ? 'texture' : 'subgroup';
}

/** Every kernel version this GPU can run. */
export function runnableMatmulVariants(gpu: Gpu): MatmulVariant[] {
  return MATMUL_VARIANTS.filter((variant) => {
    if (variant === 'subgroup' || variant === 'texture') {
      if (fixedSubgroupSize(gpu) === 0) return false;
    }
    return variant !== 'texture' || gpu.readableStorageTextures;
  });
}

type Variant = MatmulOptions;

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

const PARAMS = 'struct Params { m: u32, k: u32, n: u32, stride_a: u32, stride_b: u32, stride_c: u32 }';

function bindingsWgsl(v: Variant): string {
  return `${PARAMS}
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;
${epilogueWgsl(v)}`;
}

// ---------------------------------------------------------------------------------------------
// Version 1: register tiles.

const REG_TILE_M = 4;
const REG_TILE_N = 8;
const REG_WG = 8;

function registerWgsl(v: Variant): string {
  const rows = range(REG_TILE_M);
  const cols = range(REG_TILE_N);
  const aIndex = (i: number) => (v.transA ? `a_base + k * params.m + r${i}` : `a_row${i} + k`);
  const bIndex = (j: number) => (v.transB ? `b_col${j} + k` : `b_base + k * params.n + c${j}`);
  const store = (i: number, j: number) => `  { let row = row0 + ${i}u; let col = col0 + ${j}u;
    if (row < params.m && col < params.n) { ${storeWgsl(v, `acc${i}_${j}`)} } }`;
  return /* wgsl */ `
${bindingsWgsl(v)}

@compute @workgroup_size(${REG_WG}, ${REG_WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let row0 = (wg.y * ${REG_WG}u + lid.y) * ${REG_TILE_M}u;
  let col0 = (wg.x * ${REG_WG}u + lid.x) * ${REG_TILE_N}u;
  if (row0 >= params.m || col0 >= params.n) { return; }
  let a_base = wg.z * params.stride_a;
  let b_base = wg.z * params.stride_b;
  let c_base = wg.z * params.stride_c;
${rows.map((i) => `  let r${i} = min(row0 + ${i}u, params.m - 1u);`).join('\n')}
${cols.map((j) => `  let c${j} = min(col0 + ${j}u, params.n - 1u);`).join('\n')}
${v.transA ? '' : rows.map((i) => `  let a_row${i} = a_base + r${i} * params.k;`).join('\n')}
${v.transB ? cols.map((j) => `  let b_col${j} = b_base + c${j} * params.k;`).join('\n') : ''}
${rows.map((i) => cols.map((j) => `  var acc${i}_${j} = 0.0;`).join('\n')).join('\n')}
  for (var k = 0u; k < params.k; k++) {
${rows.map((i) => `    let a${i} = a[${aIndex(i)}];`).join('\n')}
${cols.map((j) => `    let b${j} = b[${bIndex(j)}];`).join('\n')}
${rows.map((i) => cols.map((j) => `    acc${i}_${j} = fma(a${i}, b${j}, acc${i}_${j});`).join('\n')).join('\n')}
  }
${rows.map((i) => cols.map((j) => store(i, j)).join('\n')).join('\n')}
}`;
}

// ---------------------------------------------------------------------------------------------
// Version 2: subgroup broadcast of A, per-lane B.

export interface SubgroupTile {
  /** rows per subgroup (broadcast operand) */
  tm: number;
  /** columns per lane */
  tn: number;
  /** rows per accumulator sub-block */
  sb: number;
  /** subgroups per workgroup along M and along N */
  sgm: number;
  sgn: number;
}

export const DEFAULT_SUBGROUP_TILE: SubgroupTile = { tm: 16, tn: 2, sb: 4, sgm: 8, sgn: 1 };
let subgroupTile: SubgroupTile = DEFAULT_SUBGROUP_TILE;

/** Overrides the subgroup kernel's tile (benchmarks). */
export function setSubgroupTile(tile: SubgroupTile | null): void {
  subgroupTile = tile ?? DEFAULT_SUBGROUP_TILE;
}

function subgroupWgsl(v: Variant, s: number, t: SubgroupTile): string {
  const { tm, tn, sb, sgm, sgn } = t;
  if (tm % sb !== 0) throw new Error(`matmul tile: ${tm} rows are not a multiple of the sub-block ${sb}`);
  const rows = range(tm);
  const cols = range(tn);
  const steps = range(s);
  const aIndex = (i: number) => (v.transA ? `a_base + kl * params.m + r${i}` : `a_row${i} + kl`);
  const bIndex = (j: number, step: string) => (v.transB ? `b_col${j} + ${step}` : `b_base + ${step} * params.n + c${j}`);
  const fmaBlock = range(tm / sb).map((block) =>
    steps.map((step) => range(sb).map((ii) => {
      const i = block * sb + ii;
      return `      { let av = subgroupBroadcast(al${i}, ${step}u); ${cols.map((j) => `acc${i}_${j} = fma(av, b${step}_${j}, acc${i}_${j});`).join(' ')} }`;
    }).join('\n')).join('\n')).join('\n');
  const store = (i: number, j: number) => `  { let row = row0 + ${i}u; let col = col0 + ${j}u;
    if (row < params.m && col < params.n) { ${storeWgsl(v, `acc${i}_${j}`)} } }`;
  // The early return below is uniform per subgroup (it depends on the subgroup index only).
  return /* wgsl */ `enable subgroups;
diagnostic(off, subgroup_uniformity);
${bindingsWgsl(v)}

@compute @workgroup_size(${s * sgm * sgn})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let sg = li / ${s}u;
  let row0 = (wg.y * ${sgm}u + sg / ${sgn}u) * ${tm}u;
  let sg_col0 = (wg.x * ${sgn}u + sg % ${sgn}u) * ${s * tn}u;
  // Whole subgroups outside the output leave together (the broadcasts need every lane of a subgroup).
  if (row0 >= params.m || sg_col0 >= params.n) { return; }
  let col0 = sg_col0 + lane * ${tn}u;
  let a_base = wg.z * params.stride_a;
  let b_base = wg.z * params.stride_b;
  let c_base = wg.z * params.stride_c;
${rows.map((i) => `  let r${i} = min(row0 + ${i}u, params.m - 1u);${v.transA ? '' : ` let a_row${i} = a_base + r${i} * params.k;`}`).join('\n')}
${cols.map((j) => `  let c${j} = min(col0 + ${j}u, params.n - 1u);${v.transB ? ` let b_col${j} = b_base + c${j} * params.k;` : ''}`).join('\n')}
${rows.map((i) => `  ${cols.map((j) => `var acc${i}_${j} = 0.0;`).join(' ')}`).join('\n')}
  for (var k0 = 0u; k0 < params.k; k0 += ${s}u) {
    // Lane l holds A[row, k0 + l] of every row; steps past K read zeros.
    let kl = min(k0 + lane, params.k - 1u);
    let live = k0 + lane < params.k;
${rows.map((i) => `    let al${i} = select(0.0, a[${aIndex(i)}], live);`).join('\n')}
${steps.map((step) => `    let k${step} = min(k0 + ${step}u, params.k - 1u); let in${step} = k0 + ${step}u < params.k;\n${cols.map((j) => `    let b${step}_${j} = select(0.0, b[${bIndex(j, `k${step}`)}], in${step});`).join('\n')}`).join('\n')}
${fmaBlock}
  }
${rows.map((i) => cols.map((j) => store(i, j)).join('\n')).join('\n')}
}`;
}

// ---------------------------------------------------------------------------------------------
// Version 3: workgroup-memory tiles (hardware GPUs).

const TILE = 64;
const THREAD = 4; // outputs per invocation along each axis; 16 x 16 invocations
/** Staged tiles are [depth][TILE + 1]: see tiledWgsl. */
const TILE_ROW = TILE + 1;

/**
 * The k depth of the staged tiles: 32 where both fit the device's workgroup memory (16.6 KB, just
 * over WebGPU's default 16 KiB), else 16 (half the barriers at 32; on an H200 single products ran
 * at about the same speed at either depth).
 */
export function tiledDepth(maxWorkgroupStorageBytes: number): number {
  return 2 * 32 * TILE_ROW * 4 <= maxWorkgroupStorageBytes ? 32 : 16;
}

/**
 * Invocation (tx, ty) owns rows ty + 16 i and columns tx + 16 j of the 64 x 64 tile, so that in
 * the inner loop neighbouring lanes read neighbouring floats of the B tile (no bank conflicts;
 * each half-warp's A reads are one broadcast) and its stores to `out` are contiguous.
 * The staged rows are 65 floats: where a tile is filled along K (A not transposed, B transposed)
 * consecutive lanes write one column of it, which with 64-float rows would put every lane in the
 * same memory bank.
 */
function tiledWgsl(v: Variant, depth: number): string {
  const per = range(THREAD);
  const loads = (TILE * depth) / 256; // elements of each operand tile per invocation
  // A tile: As[kk][mm] = opA(a)[row0 + mm, k0 + kk]; B tile: Bs[kk][nn] = opB(b)[k0 + kk, col0 + nn].
  const aElement = v.transA ? 'a[a_base + k * params.m + r]' : 'a[a_base + r * params.k + k]';
  const bElement = v.transB ? 'b[b_base + c * params.k + k]' : 'b[b_base + k * params.n + c]';
  // Consecutive invocations take consecutive addresses: along M (transA) or K for A, along N (not transB) or K for B.
  const aCoords = v.transA ? `let kk = e / ${TILE}u; let mm = e % ${TILE}u;` : `let mm = e / ${depth}u; let kk = e % ${depth}u;`;
  const bCoords = v.transB ? `let nn = e / ${depth}u; let kk = e % ${depth}u;` : `let kk = e / ${TILE}u; let nn = e % ${TILE}u;`;
  const store = (i: number, j: number) => `  { let row = row0 + ty + ${16 * i}u; let col = col0 + tx + ${16 * j}u;
    if (row < params.m && col < params.n) { ${storeWgsl(v, `acc${i}_${j}`)} } }`;
  return /* wgsl */ `
${bindingsWgsl(v)}
var<workgroup> As: array<f32, ${depth * TILE_ROW}>;
var<workgroup> Bs: array<f32, ${depth * TILE_ROW}>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let row0 = wg.y * ${TILE}u;
  let col0 = wg.x * ${TILE}u;
  let tx = lid.x;
  let ty = lid.y;
  let a_base = wg.z * params.stride_a;
  let b_base = wg.z * params.stride_b;
  let c_base = wg.z * params.stride_c;
${per.map((i) => `  ${per.map((j) => `var acc${i}_${j} = 0.0;`).join(' ')}`).join('\n')}
  for (var k0 = 0u; k0 < params.k; k0 += ${depth}u) {
    for (var t = 0u; t < ${loads}u; t++) {
      let e = t * 256u + li;
      {
        ${aCoords}
        let r = row0 + mm; let k = k0 + kk;
        As[kk * ${TILE_ROW}u + mm] = select(0.0, ${aElement}, r < params.m && k < params.k);
      }
      {
        ${bCoords}
        let c = col0 + nn; let k = k0 + kk;
        Bs[kk * ${TILE_ROW}u + nn] = select(0.0, ${bElement}, c < params.n && k < params.k);
      }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${depth}u; kk++) {
${per.map((i) => `      let a${i} = As[kk * ${TILE_ROW}u + ty + ${16 * i}u];`).join('\n')}
${per.map((j) => `      let b${j} = Bs[kk * ${TILE_ROW}u + tx + ${16 * j}u];`).join('\n')}
${per.map((i) => `      ${per.map((j) => `acc${i}_${j} = fma(a${i}, b${j}, acc${i}_${j});`).join(' ')}`).join('\n')}
    }
    workgroupBarrier();
  }
${per.map((i) => per.map((j) => store(i, j)).join('\n')).join('\n')}
}`;
}

// ---------------------------------------------------------------------------------------------

const sources = new Map<string, string>();

/** `s`: the subgroup size for 'subgroup', the k depth for 'tiled'. */
function source(kind: MatmulVariant, v: Variant, s: number): string {
  const tile = subgroupTile;
  const key = `${kind}|${v.transA}${v.transB}${v.bias}${v.activation}|${kind === 'subgroup' ? `${s}:${tile.tm}x${tile.tn}/${tile.sb}:${tile.sgm}x${tile.sgn}` : kind === 'tiled' ? s : ''}`;
  let wgsl = sources.get(key);
  if (wgsl === undefined) {
    wgsl = kind === 'subgroup' ? subgroupWgsl(v, s, tile) : kind === 'tiled' ? tiledWgsl(v, s) : registerWgsl(v);
    sources.set(key, wgsl);
  }
  return wgsl;
}

/** Records out = epilogue(opA(a) @ opB(b)) for every batch entry. */
export function matmul(gpu: Gpu, a: PooledBuffer, b: PooledBuffer, out: PooledBuffer, shape: MatmulShape, epilogue: MatmulEpilogue = {}): void {
  const { batch, m, k, n } = shape;
  const activation = epilogue.activation ?? 'none';
  if (activation === 'gelu' && !epilogue.preActivation) throw new Error('matmul with GELU needs a preActivation buffer');
  if (m === 0 || n === 0 || batch === 0) return;
  if (k === 0) throw new Error('matmul with K = 0 is not supported');
  const variant: Variant = { transA: !!shape.transA, transB: !!shape.transB, bias: !!epilogue.bias, activation };
  let kind = matmulVariant(gpu);
  const s = kind === 'subgroup' || kind === 'texture' ? fixedSubgroupSize(gpu) : 0;
  if (kind === 'texture') {
    if (textureMatmulFits(gpu, shape, s)) {
      textureMatmul(gpu, a, b, out, shape, variant, epilogue, s);
      return;
    }
    kind = 'subgroup';
  }
  const depth = kind === 'tiled' ? tiledDepth(gpu.device.limits.maxComputeWorkgroupStorageSize) : s;
  const kernel = gpu.kernel({ name: `matmul-${kind}`, wgsl: source(kind, variant, depth) });
  const bindings = {
    a,
    b,
    out,
    params: { m, k, n, stride_a: m * k, stride_b: k * n, stride_c: m * n },
    ...epilogueBindings(epilogue),
  };
  let workgroups: [number, number, number];
  if (kind === 'subgroup') {
    const t = subgroupTile;
    workgroups = [Math.ceil(n / (s * t.tn * t.sgn)), Math.ceil(m / (t.tm * t.sgm)), batch];
  } else if (kind === 'tiled') {
    workgroups = [Math.ceil(n / TILE), Math.ceil(m / TILE), batch];
  } else {
    workgroups = [Math.ceil(n / (REG_TILE_N * REG_WG)), Math.ceil(m / (REG_TILE_M * REG_WG)), batch];
  }
  gpu.dispatch(kernel, bindings, workgroups);
}

/**
 * Gradients of out = opA(a) @ opB(b) given dOut: dA and dB in the operands' stored layouts
 * (either may be omitted). Each is itself one matmul with the transposes rearranged.
 */
export function matmulBackward(
  gpu: Gpu,
  a: PooledBuffer,
  b: PooledBuffer,
  dOut: PooledBuffer,
  shape: MatmulShape,
  grads: { dA?: PooledBuffer; dB?: PooledBuffer },
): void {
  const { batch, m, k, n } = shape;
  const transA = !!shape.transA;
  const transB = !!shape.transB;
  if (grads.dA) {
    // dA_logical[M,K] = dOut[M,N] @ opB(b)^T; stored transposed: dA[K,M] = opB(b) @ dOut^T.
    if (!transA) matmul(gpu, dOut, b, grads.dA, { batch, m, k: n, n: k, transA: false, transB: !transB });
    else matmul(gpu, b, dOut, grads.dA, { batch, m: k, k: n, n: m, transA: transB, transB: true });
  }
  if (grads.dB) {
    // dB_logical[K,N] = opA(a)^T @ dOut; stored transposed: dB[N,K] = dOut^T @ opA(a).
    if (!transB) matmul(gpu, a, dOut, grads.dB, { batch, m: k, k: m, n, transA: !transA, transB: false });
    else matmul(gpu, dOut, a, grads.dB, { batch, m: n, k: m, n: k, transA: true, transB: transA });
  }
}
