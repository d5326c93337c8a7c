import type { PairBatcherState } from './batches.js';
import type { LossHistory } from './divergence.js';

export interface TrainOptions {
  maxlen: number;
  batchSize: number;
  epochs: number;
  /** Default: sum of group sizes / batch size, as the recipe. */
  stepsPerEpoch?: number;
  lr: number;
  weightDecay: number;
  /** Overrides the config's dropout probabilities. */
  dropout?: number;
  threshold: number;
  seed: number;
  /** Stop after this many steps in all (a checkpoint is written there). */
  maxSteps?: number;
  shuffle: boolean;
  evalBatchSize?: number;
  /** Steps with a non-finite loss or gradient that may be skipped (no update) before the run stops. */
  skipNonfinite?: number;
}

/** Where a run stands; saved as trainer-state.json and restored by --resume. */
export interface TrainerState {
  version: 1;
  /** Steps completed (skipped ones included). */
  step: number;
  /** Epochs completed. */
  epoch: number;
  bestAccuracy: number | null;
  batcher: PairBatcherState;
  options: TrainOptions;
  /** What the caller needs to re-open the same data on resume (file paths, or kind 'demo'). */
  data: { train: string; test: string | null; kind?: string };
  /** AdamW updates applied (steps minus skipped ones). */
  optimizerStep: number;
  /** Steps skipped for a non-finite loss or gradient. */
  skippedSteps: number;
  /** What the divergence guard remembers of the losses so far. */
  losses: LossHistory;
}

/** trainer-state.json holds small numbers and one permutation of the groups; more is not a state. */
const MAX_STATE_BYTES = 256 * 1024 * 1024;

type Json = Record<string, unknown>;

class StateChecker {
  constructor(private readonly name: string) {}

  fail(field: string, expected: string, value: unknown): never {
    const shown = JSON.stringify(value);
    throw new Error(`${this.name}: "${field}" must be ${expected}, got ${shown === undefined ? 'nothing' : shown.length > 60 ? `${shown.slice(0, 60)}...` : shown}`);
  }

  object(value: unknown, field: string): Json {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(field, 'an object', value);
    return value as Json;
  }

  integer(value: unknown, field: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      this.fail(field, `an integer in [${min}, ${max}]`, value);
    }
    return value;
  }

  optionalInteger(value: unknown, field: string, min: number): number | undefined {
    return value === undefined || value === null ? undefined : this.integer(value, field, min);
  }

  number(value: unknown, field: string, accept: (n: number) => boolean, expected: string): number {
    if (typeof value !== 'number' || !Number.isFinite(value) || !accept(value)) this.fail(field, expected, value);
    return value;
  }

  boolean(value: unknown, field: string): boolean {
    if (typeof value !== 'boolean') this.fail(field, 'true or false', value);
    return value;
  }

  string(value: unknown, field: string): string {
    if (typeof value !== 'string' || value.length === 0) this.fail(field, 'a non-empty string', value);
    return value;
  }
}

function parseOptions(check: StateChecker, value: unknown): TrainOptions {
  const o = check.object(value, 'options');
  const batchSize = check.integer(o.batchSize, 'options.batchSize', 2);
  if (batchSize % 2 !== 0) check.fail('options.batchSize', 'even', batchSize);
  const dropout = o.dropout === undefined || o.dropout === null ? undefined : check.number(o.dropout, 'options.dropout', (p) => p >= 0 && p < 1, 'in [0, 1)');
  const options: TrainOptions = {
    maxlen: check.integer(o.maxlen, 'options.maxlen', 5),
    batchSize,
    epochs: check.integer(o.epochs, 'options.epochs', 1),
    stepsPerEpoch: check.optionalInteger(o.stepsPerEpoch, 'options.stepsPerEpoch', 1),
    lr: check.number(o.lr, 'options.lr', (lr) => lr > 0, 'a positive number'),
    weightDecay: check.number(o.weightDecay, 'options.weightDecay', (w) => w >= 0, 'a number >= 0'),
    dropout,
    threshold: check.number(o.threshold, 'options.threshold', () => true, 'a finite number'),
    seed: check.integer(o.seed, 'options.seed', Number.MIN_SAFE_INTEGER),
    maxSteps: check.optionalInteger(o.maxSteps, 'options.maxSteps', 1),
    shuffle: check.boolean(o.shuffle, 'options.shuffle'),
    evalBatchSize: check.optionalInteger(o.evalBatchSize, 'options.evalBatchSize', 1),
    skipNonfinite: check.optionalInteger(o.skipNonfinite, 'options.skipNonfinite', 0),
  };
  // Options left out stay out, as in the file.
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as unknown as TrainOptions;
}

function parseBatcher(check: StateChecker, value: unknown): PairBatcherState {
  const b = check.object(value, 'batcher');
  if (b.version !== 1) check.fail('batcher.version', '1', b.version);
  const groupCount = check.integer(b.groupCount, 'batcher.groupCount', 0);
  if (!Array.isArray(b.order) || b.order.length !== groupCount) check.fail('batcher.order', `an array of ${groupCount} group numbers`, b.order);
  const order = (b.order as unknown[]).map((index, i) => check.integer(index, `batcher.order[${i}]`, 0, groupCount - 1));
  const random = check.object(b.random, 'batcher.random');
  if (random.algorithm !== 'xoshiro128**') check.fail('batcher.random.algorithm', '"xoshiro128**"', random.algorithm);
  if (!Array.isArray(random.words) || random.words.length !== 4) check.fail('batcher.random.words', 'four 32-bit words', random.words);
  const words = (random.words as unknown[]).map((word, i) => check.integer(word, `batcher.random.words[${i}]`, 0, 0xffffffff));
  return {
    version: 1,
    groupCount,
    groupsFingerprint: check.string(b.groupsFingerprint, 'batcher.groupsFingerprint'),
    batchSize: check.integer(b.batchSize, 'batcher.batchSize', 2),
    shuffle: check.boolean(b.shuffle, 'batcher.shuffle'),
    pass: check.integer(b.pass, 'batcher.pass', 0),
    positionInPass: check.integer(b.positionInPass, 'batcher.positionInPass', 0, groupCount),
    order,
    step: check.integer(b.step, 'batcher.step', 0),
    random: { algorithm: 'xoshiro128**', words: words as [number, number, number, number] },
  };
}

/**
 * Parses and validates trainer-state.json. `name` is how the file appears in messages. Every
 * field is checked for type and range, and the counters against each other, so a damaged or
 * hand-edited state is refused here instead of resuming into a run that trains nothing.
 */
export function parseTrainerState(bytes: Uint8Array, name: string): TrainerState {
  if (bytes.length > MAX_STATE_BYTES) throw new Error(`${name}: ${bytes.length} bytes is too large for a trainer state (at most ${MAX_STATE_BYTES})`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new Error(`${name}: not valid UTF-8`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${name}: not valid JSON (${(error as Error).message})`);
  }
  const check = new StateChecker(name);
  const s = check.object(json, '(top level)');
  if (s.version !== 1) check.fail('version', '1', s.version);
  const step = check.integer(s.step, 'step', 0);
  const epoch = check.integer(s.epoch, 'epoch', 0, step);
  const bestAccuracy = s.bestAccuracy === null ? null : check.number(s.bestAccuracy, 'bestAccuracy', (a) => a >= 0 && a <= 1, 'null or a number in [0, 1]');
  const batcher = parseBatcher(check, s.batcher);
  if (batcher.step !== step) check.fail('batcher.step', `the state's step ${step}`, batcher.step);
  const options = parseOptions(check, s.options);
  if (batcher.batchSize !== options.batchSize) check.fail('batcher.batchSize', `options.batchSize ${options.batchSize}`, batcher.batchSize);
  const data = check.object(s.data, 'data');
  const test = data.test === null ? null : check.string(data.test, 'data.test');
  const skippedSteps = s.skippedSteps === undefined ? 0 : check.integer(s.skippedSteps, 'skippedSteps', 0, step);
  const optimizerStep = check.integer(s.optimizerStep, 'optimizerStep', 0, step);
  const history = check.object(s.losses, 'losses');
  if (!Array.isArray(history.recent)) check.fail('losses.recent', 'an array of finite numbers', history.recent);
  const losses: LossHistory = {
    first: history.first === null ? null : check.number(history.first, 'losses.first', () => true, 'null or a finite number'),
    recent: (history.recent as unknown[]).map((loss, i) => check.number(loss, `losses.recent[${i}]`, () => true, 'a finite number')),
  };
  return {
    version: 1,
    step,
    epoch,
    bestAccuracy,
    batcher,
    options,
    data: { train: check.string(data.train, 'data.train'), test, ...(typeof data.kind === 'string' ? { kind: data.kind } : {}) },
    optimizerStep,
    skippedSteps,
    losses,
  };
}

export function serializeTrainerState(state: TrainerState): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(state)}\n`);
}
