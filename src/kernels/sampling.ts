import type { Gpu } from '../gpu/device.js';
import type { PooledBuffer } from '../gpu/pool.js';
import { FLAT_INDEX, grid1d, ROW_INDEX, rowGrid } from './common.js';

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
 * The kept set is "sort descending, keep up to and including the token where the weight from the
 * top first reaches the target", tokens tied with that one kept too. Sampling then draws u from a
 * counter-based hash of (seed, stream, step) and walks the kept mass in index order.
 *
 * Two ways to answer it, in one kernel:
 * - The top list (top_list, when top-k < LIST or top-p alone): one pass in which every lane keeps
 *   its LIST largest z in registers, then a merge tree gives the row's LIST largest. When the kept
 *   set provably lies within them (its smallest z is above the list's last entry) lane 0 chooses
 *   from the list alone. That is gen_synonyms' case (top-k 5): one pass over the row instead of the
 *   radix select's ten. Scalar loads are what a pass costs on software adapters.
 * - Otherwise `select_key`: a radix select on the order-preserving u32 key of z, four bits per
 *   level, 8 levels: each lane bins its chunk's weights by the next digit among tokens that match
 *   the prefix chosen so far, and lane 0 picks the highest digit at which the weight from the top
 *   first reaches the target.
 * Lavapipe compiles a pipeline with LLVM at its first dispatch; loops it can fully unroll over
 * workgroup memory blow that up (seconds per loop), so keep such loops few and their bodies small.
 */

const WORKGROUP = 64;

/** Entries of each lane's list of its largest z in the one-pass top-k (LIST_WGSL). */
const LIST = 8;

/** WGSL statements inserting (z, i) into the registers v0..v{LIST-1}, i0.. kept by z descending, then index ascending. */
function listInsert(): string {
  const lines: string[] = [];
  for (let j = 0; j < LIST; j++) lines.push(`let c${j} = z > v${j};`);
  for (let j = LIST - 1; j > 0; j--) {
    lines.push(`v${j} = select(v${j}, select(z, v${j - 1}, c${j - 1}), c${j}); i${j} = select(i${j}, select(i, i${j - 1}, c${j - 1}), c${j});`);
  }
  lines.push('v0 = select(v0, z, c0); i0 = select(i0, i, c0);');
  return lines.join('\n      ');
}

const range = (n: number) => Array.from({ length: n }, (_, j) => j);

/**
 * WGSL (after ROW_COMMON, in a kernel whose params have `vocab`) for the one-pass top list: every lane keeps its LIST largest z in
 * registers while it reads its chunk once (and, with use_mass, the mass of its chunk relative to its
 * own max, by the online-softmax rescaling), then a tree of pairwise merges in workgroup memory
 * leaves the row's LIST largest z, value descending and index ascending, at top_v[0..LIST) and
 * top_i[0..LIST) (index NONE past the eligible tokens there are). That list is the exact head of the
 * sorted row, so every question about the k most probable tokens with k < LIST is answered from it.
 */
const LIST_WGSL = /* wgsl */ `
const LIST: u32 = ${LIST}u;
const EMPTY: f32 = -3.4e38;

var<workgroup> merge_v: array<f32, ${2 * WORKGROUP * LIST}>;
var<workgroup> merge_i: array<u32, ${2 * WORKGROUP * LIST}>;
var<workgroup> lane_mass: array<f32, ${WORKGROUP}>;
var<private> top_at: u32;

fn top_v(j: u32) -> f32 { return merge_v[top_at + j]; }
fn top_i(j: u32) -> u32 { return merge_i[top_at + j]; }

fn top_list(use_mass: bool) {
  ${range(LIST).map((j) => `var v${j} = EMPTY; var i${j} = NONE;`).join(' ')}
  var mass = 0.0;
  for (var i = begin; i < end; i++) {
    let z = z_at(i);
    if (!eligible(z)) { continue; }
    if (use_mass) {
      if (z > v0) { mass = mass * exp(v0 - z) + 1.0; } else { mass += exp(z - v0); }
    }
    if (z > v${LIST - 1}) {
      ${listInsert()}
    }
  }
  let own = lid * LIST;
  // Stored through staging arrays in a loop LLVM cannot unroll, as the merges below (see stagedRowLoad in common.ts).
  var staged_v: array<f32, ${LIST}>;
  var staged_i: array<u32, ${LIST}>;
  ${range(LIST).map((j) => `staged_v[${j}] = v${j}; staged_i[${j}] = i${j};`).join('\n  ')}
  for (var j = 0u; j < select(0u, LIST, params.vocab > 0u); j++) { merge_v[own + j] = staged_v[j]; merge_i[own + j] = staged_i[j]; }
  lane_mass[lid] = mass;
  lane_max[lid] = v0;
  var reading = 0u;
  var writing = LANES * LIST;
  for (var count = LANES / 2u; count > 0u; count /= 2u) {
    workgroupBarrier();
    if (lid < count) {
      // Lists 2 lid and 2 lid + 1 cover consecutive chunks: on equal z the first one's token has the lower index.
      var a = reading + 2u * lid * LIST;
      var b = a + LIST;
      // A bound LLVM cannot see: lavapipe would unroll these 6 x 8 steps, each a per-lane
      // scalarised access to workgroup memory, into code that takes tens of seconds to compile.
      for (var j = 0u; j < select(0u, LIST, params.vocab > 0u); j++) {
        let out = writing + lid * LIST + j;
        if (merge_v[a] >= merge_v[b]) {
          merge_v[out] = merge_v[a]; merge_i[out] = merge_i[a]; a++;
        } else {
          merge_v[out] = merge_v[b]; merge_i[out] = merge_i[b]; b++;
        }
      }
    }
    let swap = reading;
    reading = writing;
    writing = swap;
  }
  workgroupBarrier();
  top_at = reading;
  row_max = top_v(0u);
}

// With use_mass: the row's mass sum of exp(z - row_max) over eligible tokens, from the lanes' masses.
fn row_mass() -> f32 {
  var total = 0.0;
  for (var l = 0u; l < LANES; l++) { total += lane_mass[l] * exp(lane_max[l] - row_max); }
  return total;
}
`;

/** WGSL shared by the per-row kernels: chunking, keys, the first pass (max / argmax) and select_key. */
const ROW_COMMON = /* wgsl */ `
const LANES: u32 = ${WORKGROUP}u;
const NONE: u32 = 0xffffffffu;

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
  var arg = NONE;
  for (var i = begin; i < end; i++) {
    let z = z_at(i);
    if (eligible(z) && (z > best || arg == NONE)) { best = z; arg = i; }
  }
  lane_max[lid] = best;
  lane_arg[lid] = arg;
  workgroupBarrier();
  var m = -3.4e38;
  var am = NONE;
  for (var l = 0u; l < LANES; l++) {
    if (lane_arg[l] != NONE && (lane_max[l] > m || am == NONE)) { m = lane_max[l]; am = lane_arg[l]; }
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
${LIST_WGSL}
var<workgroup> shared_lane: u32;
var<workgroup> shared_offset: f32;
var<workgroup> shared_done: u32;

fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

// Entries 0..n of the top list hold every eligible token with z >= t, unless the list's last
// entry also reaches t (then tokens tied with it may lie outside the list).
fn list_holds(t: f32) -> bool { return top_i(LIST - 1u) == NONE || top_v(LIST - 1u) < t; }

fn count_at_least(t: f32) -> u32 {
  var n = 0u;
  for (var j = 0u; j < LIST; j++) { if (top_i(j) != NONE && top_v(j) >= t) { n++; } }
  return n;
}

fn head_mass(n: u32) -> f32 {
  var total = 0.0;
  for (var j = 0u; j < n; j++) { total += exp(top_v(j) - row_max); }
  return total;
}

// The token drawn by u from the top list (lane 0 alone), or NONE when the kept set does not lie
// provably within the list. Same kept set and index-order walk as the general path below.
fn choose_from_list(u: f32) -> u32 {
  var n = LIST;
  var total = 0.0;
  if (params.topk > 0u) {
    let t = select(top_v(params.topk - 1u), EMPTY, top_i(params.topk - 1u) == NONE);
    if (!list_holds(t)) { return NONE; }
    n = count_at_least(t);
    total = head_mass(n);
  } else {
    total = row_mass();
  }
  if (params.topp < 1.0) {
    let goal = params.topp * total;
    var cumulative = 0.0;
    var boundary = NONE;
    for (var j = 0u; j < n; j++) {
      if (top_i(j) == NONE) { break; }
      cumulative += exp(top_v(j) - row_max);
      if (cumulative >= goal) { boundary = j; break; }
    }
    if (boundary == NONE || !list_holds(top_v(boundary))) { return NONE; }
    n = count_at_least(top_v(boundary));
    total = head_mass(n);
  }
  let goal = u * total;
  var cumulative = 0.0;
  var pick = NONE;
  for (var step = 0u; step < n; step++) {
    var next = NONE;
    var next_v = 0.0;
    for (var j = 0u; j < n; j++) {
      let i = top_i(j);
      if ((pick == NONE || i > pick) && (next == NONE || i < next)) { next = i; next_v = top_v(j); }
    }
    pick = next;
    cumulative += exp(next_v - row_max);
    if (cumulative > goal) { break; }
  }
  return pick;
}

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) local: u32) {
  let row = ${ROW_INDEX};
  if (row >= params.rows) { return; }
  setup(row, local);
  let u = f32(pcg(pcg(pcg(params.step) + streams[row]) + params.seed) >> 8u) / 16777216.0;
  if (params.greedy == 0u && params.topk < LIST && (params.topk > 0u || params.topp < 1.0)) {
    top_list(params.topk == 0u);
    if (lid == 0u) {
      var pick = top_i(0u);
      if (pick != NONE) { pick = choose_from_list(u); }
      shared_done = select(1u, 0u, pick == NONE && top_i(0u) != NONE);
      if (shared_done == 1u) { chosen[row] = select(f32(pick), -1.0, pick == NONE); }
    }
    if (workgroupUniformLoad(&shared_done) == 1u) { return; }
  } else {
    let top = find_max();
    if (params.greedy == 1u || top == NONE) {
      if (lid == 0u) { chosen[row] = select(f32(top), -1.0, top == NONE); }
      return;
    }
  }
  var lower = 0u;
  if (params.topk > 0u) { lower = select_key(0u, false, f32(params.topk)); }
  // Top-p alone took the top-list pass above, which also summed the row's mass.
  var total = 0.0;
  if (params.topk == 0u && params.topp < 1.0) { total = row_mass(); } else { total = kept_sum(lower, true); }
  if (params.topp < 1.0) {
    lower = select_key(lower, true, params.topp * total);
    total = kept_sum(lower, true);
  }
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
${LIST_WGSL}
var<workgroup> lane_offset: array<u32, ${WORKGROUP}>;
var<workgroup> lane_tied: array<u32, ${WORKGROUP}>;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) local: u32) {
  let row = ${ROW_INDEX};
  if (row >= params.rows) { return; }
  setup(row, local);
  if (params.width <= LIST) {
    // The top list is the head of the row sorted by z descending, then index ascending.
    top_list(true);
    let lse = row_max + log(row_mass());
    if (lid < params.width) {
      let out = row * params.width + lid;
      let listed = top_i(lid) != NONE;
      cand_score[out] = select(-3.4e38, beam_scores[row] + (top_v(lid) - lse), listed);
      cand_token[out] = select(-1.0, f32(top_i(lid)), listed);
    }
    return;
  }
  _ = find_max();
  let lse = row_max + log(kept_sum(0u, true));
  let lower = select_key(0u, false, f32(params.width));
  // Fewer than width tokens lie strictly above lower: all of those, then the ones at lower in
  // index order, so that ties at the threshold never push out a better token of a higher index.
  var above = 0u;
  var tied = 0u;
  for (var i = begin; i < end; i++) {
    let z = z_at(i);
    if (!eligible(z)) { continue; }
    if (order_key(z) > lower) { above++; } else if (order_key(z) == lower) { tied++; }
  }
  lane_offset[lid] = above;
  lane_tied[lid] = tied;
  workgroupBarrier();
  var offset = 0u;
  var tied_offset = 0u;
  var all_above = 0u;
  var candidates_found = 0u;
  for (var l = 0u; l < LANES; l++) {
    if (l < lid) {
      offset += lane_offset[l];
      tied_offset += lane_tied[l];
    }
    all_above += lane_offset[l];
    candidates_found += lane_offset[l] + lane_tied[l];
  }
  tied_offset += all_above;
  let out = row * params.width;
  for (var i = begin; i < end; i++) {
    let z = z_at(i);
    if (!eligible(z)) { continue; }
    var slot = NONE;
    if (order_key(z) > lower) {
      slot = offset;
      offset++;
    } else if (order_key(z) == lower) {
      slot = tied_offset;
      tied_offset++;
    }
    if (slot < params.width) {
      cand_score[out + slot] = beam_scores[row] + (z - lse);
      cand_token[out + slot] = f32(i);
    }
  }
  if (lid == LANES - 1u) {
    for (var j = min(candidates_found, params.width); j < params.width; j++) {
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
