/**
 * The recipe's batch generator. Each pass visits every group once (shuffled each pass, or in
 * file order without shuffling); from each group it picks two different texts a and b at random
 * and adds the rows (a, b) and (b, a) next to each other, so rows 2k and 2k+1 are a pair, as the
 * similarity loss expects. The batch size counts rows and must be even. The last batch of a pass
 * may be short and is kept; the next batch starts a new pass, so batches never run out.
 *
 * The recipe picks the two texts with replacement, so a text can be paired with itself; we pick
 * two different ones (DESIGN.md). An epoch is `stepsPerEpoch` batches, by default
 * floor(sum of group sizes / batch size) like the recipe, which is usually more than one pass
 * (a pass uses batchSize / 2 groups per batch), so epochs and passes are independent.
 *
 * `state()` captures the position (pass, place in the pass, the pass's order and the random
 * state) as plain JSON; `restore()` continues exactly where it was.
 */
import { SeededRandom, type RandomState } from '../model/random.js';

/** One training row: the model reads `[CLS] source [SEP] target [SEP]` and generates target. */
export interface TrainingRow {
  source: string;
  target: string;
}

export interface TrainingBatch {
  /** Rows 2k and 2k+1 are (a, b) and (b, a) from the same group. */
  rows: TrainingRow[];
  /** Index of each pair's group in the groups given to the batcher (one per row pair). */
  groupIndices: number[];
  /** Which pass over the groups this batch belongs to, from 0. */
  pass: number;
  /** Batches produced before this one, from 0. */
  step: number;
}

export interface PairBatcherOptions {
  /** Rows per batch (two per group); an even number >= 2. */
  batchSize: number;
  seed: number;
  /** Shuffle the groups at every pass (default true); false keeps file order. */
  shuffle?: boolean;
  /** Batches per epoch; defaults to {@link defaultStepsPerEpoch}. */
  stepsPerEpoch?: number;
}

/** The batcher's position, as plain JSON. */
export interface PairBatcherState {
  version: 1;
  groupCount: number;
  groupsFingerprint: string;
  batchSize: number;
  shuffle: boolean;
  pass: number;
  positionInPass: number;
  order: number[];
  step: number;
  random: RandomState;
}

/** The recipe's steps per epoch: floor(sum of group sizes / batch size), at least 1. */
export function defaultStepsPerEpoch(groups: readonly (readonly string[])[], batchSize: number): number {
  const totalTexts = groups.reduce((sum, group) => sum + group.length, 0);
  return Math.max(1, Math.floor(totalTexts / batchSize));
}

/** FNV-1a over the groups' texts, so a state is not restored against different data. */
function fingerprintGroups(groups: readonly (readonly string[])[]): string {
  let hash = 0x811c9dc5;
  const mix = (code: number): void => {
    hash = Math.imul(hash ^ code, 0x01000193) >>> 0;
  };
  for (const group of groups) {
    for (const text of group) {
      for (let i = 0; i < text.length; i++) mix(text.charCodeAt(i));
      mix(0x1f); // text separator
    }
    mix(0x1e); // group separator
  }
  return hash.toString(16).padStart(8, '0');
}

export class PairBatcher {
  readonly batchSize: number;
  readonly groupsPerBatch: number;
  readonly stepsPerEpoch: number;
  readonly shuffle: boolean;
  private readonly groups: readonly (readonly string[])[];
  private readonly fingerprint: string;
  private readonly random: SeededRandom;
  private order: number[];
  private pass = 0;
  private positionInPass = 0;
  private step = 0;

  constructor(groups: readonly (readonly string[])[], options: PairBatcherOptions) {
    const { batchSize, seed, shuffle = true } = options;
    if (!Number.isInteger(batchSize) || batchSize < 2 || batchSize % 2 !== 0) {
      throw new RangeError(`batch size counts rows, two per group, so it must be an even number >= 2; got ${batchSize}`);
    }
    if (groups.length === 0) throw new RangeError('no groups to make batches from');
    groups.forEach((group, index) => {
      if (group.length < 2) throw new RangeError(`group ${index} has ${group.length} text(s); every group needs at least 2`);
    });
    const stepsPerEpoch = options.stepsPerEpoch ?? defaultStepsPerEpoch(groups, batchSize);
    if (!Number.isInteger(stepsPerEpoch) || stepsPerEpoch < 1) {
      throw new RangeError(`steps per epoch must be a positive integer, got ${stepsPerEpoch}`);
    }
    this.groups = groups;
    this.batchSize = batchSize;
    this.groupsPerBatch = batchSize / 2;
    this.stepsPerEpoch = stepsPerEpoch;
    this.shuffle = shuffle;
    this.fingerprint = fingerprintGroups(groups);
    this.random = new SeededRandom(seed);
    this.order = this.orderForPass();
  }

  /** Batches per pass over the groups (the last one may be short). */
  get batchesPerPass(): number {
    return Math.ceil(this.groups.length / this.groupsPerBatch);
  }

  /** The next batch; starts a new pass when the current one is used up. */
  next(): TrainingBatch {
    if (this.positionInPass >= this.order.length) {
      this.pass++;
      this.positionInPass = 0;
      this.order = this.orderForPass();
    }
    const end = Math.min(this.positionInPass + this.groupsPerBatch, this.order.length);
    const groupIndices = this.order.slice(this.positionInPass, end);
    this.positionInPass = end;
    const rows: TrainingRow[] = [];
    for (const groupIndex of groupIndices) {
      const [a, b] = this.pickTwoTexts(this.groups[groupIndex] as readonly string[]);
      rows.push({ source: a, target: b }, { source: b, target: a });
    }
    return { rows, groupIndices, pass: this.pass, step: this.step++ };
  }

  /** The next `stepsPerEpoch` batches. */
  *epoch(): Generator<TrainingBatch, void, undefined> {
    for (let i = 0; i < this.stepsPerEpoch; i++) yield this.next();
  }

  state(): PairBatcherState {
    return {
      version: 1,
      groupCount: this.groups.length,
      groupsFingerprint: this.fingerprint,
      batchSize: this.batchSize,
      shuffle: this.shuffle,
      pass: this.pass,
      positionInPass: this.positionInPass,
      order: [...this.order],
      step: this.step,
      random: this.random.state(),
    };
  }

  /** Continues from a saved state; the groups, batch size and shuffle flag must be the same. */
  restore(state: PairBatcherState): void {
    const problems: string[] = [];
    if (state?.version !== 1) problems.push(`unknown state version ${String(state?.version)}`);
    else {
      if (state.groupCount !== this.groups.length) problems.push(`it has ${state.groupCount} groups, this batcher ${this.groups.length}`);
      else if (state.groupsFingerprint !== this.fingerprint) problems.push('its groups hold different texts');
      if (state.batchSize !== this.batchSize) problems.push(`its batch size is ${state.batchSize}, this batcher's ${this.batchSize}`);
      if (state.shuffle !== this.shuffle) problems.push(`its shuffle flag is ${state.shuffle}, this batcher's ${this.shuffle}`);
      if (!isPermutation(state.order, this.groups.length)) problems.push('its group order is not a permutation of the groups');
      const counters = [state.pass, state.positionInPass, state.step];
      if (!counters.every((value) => Number.isSafeInteger(value) && value >= 0) || state.positionInPass > this.groups.length) {
        problems.push('its pass, position or step is out of range');
      }
    }
    if (problems.length > 0) throw new Error(`cannot restore the batch generator: ${problems.join('; ')}`);
    this.random.restore(state.random);
    this.order = [...state.order];
    this.pass = state.pass;
    this.positionInPass = state.positionInPass;
    this.step = state.step;
  }

  private orderForPass(): number[] {
    const order = Array.from({ length: this.groups.length }, (_, index) => index);
    return this.shuffle ? this.random.shuffle(order) : order;
  }

  private pickTwoTexts(group: readonly string[]): [string, string] {
    const first = this.random.nextInt(group.length);
    // Draw from the other length - 1 texts: an index at or past `first` moves up by one.
    let second = this.random.nextInt(group.length - 1);
    if (second >= first) second++;
    return [group[first] as string, group[second] as string];
  }
}

function isPermutation(order: unknown, length: number): order is number[] {
  if (!Array.isArray(order) || order.length !== length) return false;
  const seen = new Uint8Array(length);
  for (const value of order) {
    if (!Number.isInteger(value) || value < 0 || value >= length || seen[value]) return false;
    seen[value] = 1;
  }
  return true;
}
