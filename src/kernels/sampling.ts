import type { Gpu } from '../gpu/device.js';
import type { PooledBuffer } from '../gpu/pool.js';
import { FLAT_INDEX, grid1d } from './common.js';

/**
 * Choosing the next token of each decoding row from its logits, on the GPU, so that only the
 * chosen ids (and, for beam search, parents and scores) come back to the host.
 *
 * One workgroup of 64 lanes per row; lane l owns a contiguous chunk of the vocabulary, so "index
 * order" and "lane order" agree. Logits equal to -inf (maskTokens) are banned: never chosen,
 * outside every count and sum. z = logit / temperature.
 *
 * Top-k and top-p both reduce to one question: the largest z threshold whose kept set {z >= t}
 * has at least k tokens (weight 1) or at least p of the probability mass (weight exp(z - max)).
 * `select_key` answers it exactly with a radix select on the order-preserving u32 key of z, four
 * bits per level, 8 levels: each lane bins its chunk's weights by the next digit among tokens that
 * match the prefix chosen so far, and lane 0 picks the highest digit at which the weight from the
 * top first reaches the target. The result is the key of the token where the sorted cumulative
 * weight first reaches the target, so the kept set is "sort descending, keep up to and including
 * that token" (tokens tied with it are kept too). Sampling then draws u from a counter-based hash of
 * (seed, stream, step) and walks the kept mass in index order.
 */

const WORKGROUP = 64;
const ROWS_PER_DIMENSION = 65535;

function rowGrid(rows: number): [number, number] {
  if (rows <= ROWS_PER_DIMENSION) return [rows, 1];
  const y = Math.ceil(rows / ROWS_PER_DIMENSION);
  return [Math.ceil(rows / y), y];
}

/** WGSL shared by the per-row kernels: chunking, keys, the first pass (max / argmax) and select_key. */
const ROW_COMMON = /* wgsl */ `
const LANES: u32 = ${WORKGROUP}u;

var<workgroup> bins: array<f32, ${WORKGROUP * 16}>;
var<workgroup> totals: array<f32, 16>;
var<workgroup> lane_max: array<f32, ${WORKGROUP}>;
var<workgroup> lane_arg: array<u32, ${WORKGROUP}>;
var<workgroup> lane_sum: array<f32, ${WORKGROUP}>;
var<workgroup> shared_prefix: u32;
var<workgroup> shared_above: f32;
var<workgroup> shared_state: u32;
var<workgroup> shared_arg: u32;

var<private> lid: u32;
var<private> base: u32;
var<private> begin: u32;
var<private> end: u32;
var<private> row_max: f32;

fn z_at(i: u32) -> f32 { return logits[base + i] * params.inv_temperature; }

fn eligible(z: f32) -> bool { return z >= -3.0e38; }

// Larger z, larger key (IEEE order made unsigned).
fn order_key(z: f32) -> u32 {
  let bits = bitcast<u32>(z);
  return select(bits | 0x80000000u, ~bits, (bits & 0x80000000u) != 0u);
}

fn weight(z: f32, use_mass: bool) -> f32 { return select(1.0, exp(z - row_max), use_mass); }

fn setup(row: u32, local: u32) {
  lid = local;
  base = row * params.vocab;
  let chunk = (params.vocab + LANES - 1u) / LANES;
  begin = min(lid * chunk, params.vocab);
  end = min(begin + chunk, params.vocab);
}

// The row's largest z (banned tokens excluded) into row_max; returns the lowest index holding it
// (0xffffffff when every token is banned).
fn find_max() -> u32 {
  var best = -3.4e38;
  var arg = 0xffffffffu;
  for (var i = begin; i < end; i++) {
    let z = z_at(i);
    if (eligible(z) && (z > best || arg == 0xffffffffu)) { best = z; arg = i; }
  }
  lane_max[lid] = best;
  lane_arg[lid] = arg;
  workgroupBarrier();
  var m = -3.4e38;
  var am = 0xffffffffu;
  for (var l = 0u; l < LANES; l++) {
    if (lane_arg[l] != 0xffffffffu && (lane_max[l] > m || am == 0xffffffffu)) { m = lane_max[l]; am = lane_arg[l]; }
  }
  row_max = m;
  if (lid == 0u) { shared_arg = am; }
  return workgroupUniformLoad(&shared_arg);
}

// Sum of weights of eligible tokens with key >= lower: each lane's part into lane_sum, the total returned.
fn kept_sum(lower: u32, use_mass: bool) -> f32 {
  var s = 0.0;
  for (var i = begin; i < end; i++) {
    let z = z_at(i);
    if (eligible(z) && order_key(z) >= lower) { s += weight(z, use_mass); }
  }
  lane_sum[lid] = s;
  workgroupBarrier();
  var total = 0.0;
  for (var l = 0u; l < LANES; l++) { total += lane_sum[l]; }
  workgroupBarrier();
  return total;
}

// The largest key t such that the weight of eligible tokens with lower <= key, key >= t reaches
// goal; lower itself when even all of them fall short.
fn select_key(lower: u32, use_mass: bool, goal: f32) -> u32 {
  if (lid == 0u) {
    shared_prefix = 0u;
    shared_above = 0.0;
    shared_state = 0u;
  }
  workgroupBarrier();
  for (var level = 0u; level < 8u; level++) {
    let shift = 28u - 4u * level;
    let prefix = shared_prefix;
    let searching = shared_state == 0u;
    for (var d = 0u; d < 16u; d++) { bins[lid * 16u + d] = 0.0; }
    if (searching) {
      for (var i = begin; i < end; i++) {
        let z = z_at(i);
        if (!eligible(z)) { continue; }
        let key = order_key(z);
        if (key < lower) { continue; }
        if (level > 0u && (key >> (shift + 4u)) != prefix) { continue; }
        let d = (key >> shift) & 15u;
        bins[lid * 16u + d] += weight(z, use_mass);
      }
    }
    workgroupBarrier();
    if (lid < 16u) {
      var t = 0.0;
      for (var l = 0u; l < LANES; l++) { t += bins[l * 16u + lid]; }
      totals[lid] = t;
    }
    workgroupBarrier();
    if (lid == 0u && shared_state == 0u) {
      var cumulative = shared_above;
      var pick = 16u;
      for (var k = 0u; k < 16u; k++) {
        let d = 15u - k;
        if (cumulative + totals[d] >= goal) { pick = d; break; }
        cumulative += totals[d];
      }
      if (pick == 16u) {
        shared_state = 2u;
      } else {
        shared_above = cumulative;
        shared_prefix = (prefix << 4u) | pick;
      }
    }
    workgroupBarrier();
  }
  let result = select(shared_prefix, lower, shared_state == 2u);
  workgroupBarrier();
  return result;
}
`;

const SAMPLE = /* wgsl */ `
struct Params { rows: u32, vocab: u32, greedy: u32, topk: u32, topp: f32, inv_temperature: f32, seed: u32, step: u32 }
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> streams: array<u32>;
@group(0) @binding(2) var<storage, read_write> chosen: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;
${ROW_COMMON}
var<workgroup> shared_lane: u32;
var<workgroup> shared_offset: f32;

fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) local: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) { return; }
  setup(row, local);
  let top = find_max();
  if (params.greedy == 1u || top == 0xffffffffu) {
    if (lid == 0u) { chosen[row] = select(f32(top), -1.0, top == 0xffffffffu); }
    return;
  }
  var lower = 0u;
  if (params.topk > 0u) { lower = select_key(0u, false, f32(params.topk)); }
  var total = kept_sum(lower, true);
  if (params.topp < 1.0) {
    lower = select_key(lower, true, params.topp * total);
    total = kept_sum(lower, true);
  }
  let u = f32(pcg(pcg(pcg(params.step) + streams[row]) + params.seed) >> 8u) / 16777216.0;
  let goal = u * total;
  if (lid == 0u) {
    var cumulative = 0.0;
    var lane = LANES;
    var last = 0u;
    for (var l = 0u; l < LANES; l++) {
      if (lane_sum[l] > 0.0) { last = l; }
      if (lane == LANES && lane_sum[l] > 0.0 && cumulative + lane_sum[l] > goal) { lane = l; shared_offset = goal - cumulative; }
      if (lane == LANES) { cumulative += lane_sum[l]; }
    }
    // Rounding can leave u * total at or past the last kept token: take that token.
    if (lane == LANES) { lane = last; shared_offset = 3.4e38; }
    shared_lane = lane;
  }
  workgroupBarrier();
  if (lid != shared_lane) { return; }
  var cumulative = 0.0;
  var pick = 0u;
  for (var i = begin; i < end; i++) {
    let z = z_at(i);
    if (!eligible(z) || order_key(z) < lower) { continue; }
    pick = i;
    cumulative += exp(z - row_max);
    if (cumulative > shared_offset) { break; }
  }
  chosen[row] = f32(pick);
}`;

export interface SamplingParams {
  /** Argmax (lowest index on ties) instead of sampling. */
  greedy: boolean;
  /** Keep the k most probable tokens (0: no top-k). */
  topk: number;
  /** Keep the smallest head of the sorted distribution reaching this mass (1: no top-p). */
  topp: number;
  temperature: number;
  seed: number;
  step: number;
}

function checkSampling(p: SamplingParams): void {
  if (!(p.temperature > 0) || !Number.isFinite(p.temperature)) throw new Error(`sampling: temperature must be > 0, got ${p.temperature}`);
  if (!(p.topp > 0 && p.topp <= 1)) throw new Error(`sampling: top-p must be in (0, 1], got ${p.topp}`);
  if (!Number.isInteger(p.topk) || p.topk < 0) throw new Error(`sampling: top-k must be an integer >= 0, got ${p.topk}`);
}

/**
 * chosen[r] (f32) = the token drawn for row r of logits [rows, vocab]; streams[r] (u32) names the
 * random stream of row r, so a sequence draws the same numbers whichever rows decode beside it.
 * -1 when every token of the row is banned.
 */
export function sampleTokens(
  gpu: Gpu, t: { logits: PooledBuffer; streams: PooledBuffer; chosen: PooledBuffer }, rows: number, vocab: number, p: SamplingParams,
): void {
  checkSampling(p);
  gpu.dispatch(
    gpu.kernel({ name: 'sampleTokens', wgsl: SAMPLE }),
    {
      logits: t.logits, streams: t.streams, chosen: t.chosen,
      params: {
        rows, vocab, greedy: p.greedy ? 1 : 0, topk: p.topk, topp: p.topp, inv_temperature: 1 / p.temperature,
        seed: p.seed >>> 0, step: p.step >>> 0,
      },
    },
    rowGrid(rows),
  );
}

const BEAM_ROW = /* wgsl */ `
struct Params { rows: u32, vocab: u32, width: u32, inv_temperature: f32 }
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> beam_scores: array<f32>;
@group(0) @binding(2) var<storage, read_write> cand_score: array<f32>;
@group(0) @binding(3) var<storage, read_write> cand_token: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;
${ROW_COMMON}
var<workgroup> lane_offset: array<u32, ${WORKGROUP}>;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) local: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) { return; }
  setup(row, local);
  _ = find_max();
  let lse = row_max + log(kept_sum(0u, true));
  let lower = select_key(0u, false, f32(params.width));
  var count = 0u;
  for (var i = begin; i < end; i++) {
    let z = z_at(i);
    if (eligible(z) && order_key(z) >= lower) { count++; }
  }
  lane_offset[lid] = count;
  workgroupBarrier();
  var offset = 0u;
  for (var l = 0u; l < lid; l++) { offset += lane_offset[l]; }
  let out = row * params.width;
  for (var i = begin; i < end; i++) {
    let z = z_at(i);
    if (offset >= params.width) { break; }
    if (eligible(z) && order_key(z) >= lower) {
      cand_score[out + offset] = beam_scores[row] + (z - lse);
      cand_token[out + offset] = f32(i);
      offset++;
    }
  }
  if (lid == LANES - 1u) {
    for (var j = offset; j < params.width; j++) {
      cand_score[out + j] = -3.4e38;
      cand_token[out + j] = -1.0;
    }
  }
}`;

const BEAM_MERGE = /* wgsl */ `
struct Params { groups: u32, width: u32 }
@group(0) @binding(0) var<storage, read> cand_score: array<f32>;
@group(0) @binding(1) var<storage, read> cand_token: array<f32>;
@group(0) @binding(2) var<storage, read> group_info: array<u32>;
@group(0) @binding(3) var<storage, read_write> chosen: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

// Candidate a ranks before b: higher score, then lower index.
fn before(sa: f32, a: u32, sb: f32, b: u32) -> bool { return sa > sb || (sa == sb && a < b); }

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let g = ${FLAT_INDEX};
  if (g >= params.groups) { return; }
  let first = group_info[3u * g] * params.width;
  let count = group_info[3u * g + 1u] * params.width;
  let keep = group_info[3u * g + 2u];
  var previous_score = 3.4e38;
  var previous = 0xffffffffu;
  for (var j = 0u; j < keep; j++) {
    var best_score = -3.4e38;
    var best = 0xffffffffu;
    for (var c = 0u; c < count; c++) {
      let s = cand_score[first + c];
      let after_previous = previous == 0xffffffffu || before(previous_score, previous, s, c);
      if (after_previous && cand_token[first + c] >= 0.0 && (best == 0xffffffffu || before(s, c, best_score, best))) { best_score = s; best = c; }
    }
    let out = 3u * (g * params.width + j);
    if (best == 0xffffffffu) {
      chosen[out] = -1.0;
      chosen[out + 1u] = -1.0;
      chosen[out + 2u] = -3.4e38;
    } else {
      chosen[out] = f32((first + best) / params.width);
      chosen[out + 1u] = cand_token[first + best];
      chosen[out + 2u] = best_score;
    }
    previous_score = best_score;
    previous = best;
  }
}`;

/**
 * One step of beam search. For each row: its `width` best continuations by
 * beam_scores[row] + log_softmax(logits[row] / temperature) (banned tokens excluded). Then for each
 * group g of rows (group_info, 3 u32 per group: first row, rows, beams to keep <= width) its `keep`
 * best continuations over all its rows, written to chosen[3 * (g * width + j)] as (parent row,
 * token, score) f32s, best first (higher score, then lower row, then lower token); (-1, -1, -3.4e38)
 * past the candidates there are.
 */
export function beamStep(
  gpu: Gpu,
  t: { logits: PooledBuffer; beamScores: PooledBuffer; groupInfo: PooledBuffer; candScore: PooledBuffer; candToken: PooledBuffer; chosen: PooledBuffer },
  dims: { rows: number; vocab: number; groups: number; width: number; temperature: number },
): void {
  const { rows, vocab, groups, width, temperature } = dims;
  if (!Number.isInteger(width) || width < 1) throw new Error(`beamStep: width must be a positive integer, got ${width}`);
  if (!(temperature > 0) || !Number.isFinite(temperature)) throw new Error(`beamStep: temperature must be > 0, got ${temperature}`);
  gpu.dispatch(
    gpu.kernel({ name: 'beamRowCandidates', wgsl: BEAM_ROW }),
    { logits: t.logits, beam_scores: t.beamScores, cand_score: t.candScore, cand_token: t.candToken, params: { rows, vocab, width, inv_temperature: 1 / temperature } },
    rowGrid(rows),
  );
  gpu.dispatch(
    gpu.kernel({ name: 'beamMerge', wgsl: BEAM_MERGE }),
    { cand_score: t.candScore, cand_token: t.candToken, group_info: t.groupInfo, chosen: t.chosen, params: { groups, width } },
    grid1d(groups),
  );
}

const MASK = /* wgsl */ `
struct Params { count: u32, vocab: u32, neg_inf_bits: u32 }
@group(0) @binding(0) var<storage, read> cells: array<u32>;
@group(0) @binding(1) var<storage, read_write> logits: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = ${FLAT_INDEX};
  if (i >= params.count) { return; }
  logits[cells[2u * i] * params.vocab + cells[2u * i + 1u]] = bitcast<f32>(params.neg_inf_bits);
}`;

/** Bans tokens: logits[row, token] = -inf for each (row, token) pair in cells (u32, 2 per pair). */
export function maskTokens(gpu: Gpu, cells: PooledBuffer, logits: PooledBuffer, count: number, vocab: number): void {
  gpu.dispatch(gpu.kernel({ name: 'maskTokens', wgsl: MASK }), { cells, logits, params: { count, vocab, neg_inf_bits: 0xff800000 } }, grid1d(count));
}
