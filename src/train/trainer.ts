import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { AdamW } from '../autograd/adamw.js';
import { backward } from '../autograd/tape.js';
import { scope, type Tensor } from '../autograd/tensor.js';
import type { SimBert } from '../model/bert.js';
import { downloadWeights } from '../model/parameters.js';
import type { Tokenizer } from '../model/tokenizer.js';
import { PairBatcher, type PairBatcherState } from './batches.js';
import type { TestPairs } from './data.js';
import { evaluatePairs, padRows } from './encode.js';
import { metricsRecord, type MetricsRecord, type SimilarityEvaluation } from './metrics.js';
import type { LoadedModel } from '../model/model-folder.js';
import { writeModelDir } from './model-files.js';

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
}

export interface StepRecord {
  step: number;
  epoch: number;
  loss: number;
  seq2seq_loss: number;
  similarity_loss: number;
  lr: number;
  seconds: number;
  rows_per_second: number;
  rows: number;
  tokens_per_row: number;
}

export interface EpochRecord extends MetricsRecord {
  epoch: number;
  best_accuracy: number | null;
}

/** Where a run stands; saved as trainer-state.json and restored by --resume. */
export interface TrainerState {
  version: 1;
  /** Steps completed. */
  step: number;
  /** Epochs completed. */
  epoch: number;
  bestAccuracy: number | null;
  batcher: PairBatcherState;
  options: TrainOptions;
  /** What the caller needs to re-open the same data on resume (file paths or 'demo'). */
  data: Record<string, unknown>;
}

export interface TrainerEvents {
  stepsPerEpoch?(steps: number, totalSteps: number): void;
  step?(record: StepRecord): void;
  epoch?(record: EpochRecord): void;
  checkpoint?(dir: string): void;
}

export interface TrainRun {
  model: SimBert;
  tokenizer: Tokenizer;
  loaded: LoadedModel;
  groups: string[][];
  test: TestPairs | null;
  options: TrainOptions;
  out: string | null;
  data: Record<string, unknown>;
  resume?: TrainerState;
  events?: TrainerEvents;
}

function stepSeed(seed: number, step: number): number {
  // Distinct dropout masks per step, reproducible from the run seed and the step number.
  return ((seed >>> 0) * 7919 + step) % 1_048_576;
}

/**
 * The SimBERT training loop: batches as the recipe's generator, one recorded step per batch
 * (forward, both losses, backward, AdamW) whose losses are read back a step late, evaluation
 * and a checkpoint at every epoch end, and metrics appended to DIR/metrics.jsonl.
 */
export async function train(run: TrainRun): Promise<{ state: TrainerState; lastEvaluation: SimilarityEvaluation | null }> {
  const { model, tokenizer, options, events } = run;
  const batcher = new PairBatcher(run.groups, {
    batchSize: options.batchSize,
    seed: options.seed,
    shuffle: options.shuffle,
    stepsPerEpoch: options.stepsPerEpoch,
  });
  const optimizer = new AdamW(model.weights, { lr: options.lr, weightDecay: options.weightDecay });
  let state: TrainerState = run.resume ?? {
    version: 1, step: 0, epoch: 0, bestAccuracy: null, batcher: batcher.state(), options, data: run.data,
  };
  if (run.resume) {
    batcher.restore(run.resume.batcher);
    if (!run.loaded.optimizer) throw new Error('the checkpoint to resume has no optimizer state (Adam slots)');
    optimizer.importState(run.loaded.optimizer);
  }
  const totalSteps = Math.min(options.epochs * batcher.stepsPerEpoch, options.maxSteps ?? Infinity);
  events?.stepsPerEpoch?.(batcher.stepsPerEpoch, totalSteps);
  const metricsPath = run.out ? join(run.out, 'metrics.jsonl') : null;
  // Nothing is written until the first step has run, so a run that fails at once (a memory
  // limit too small, say) leaves no half-made output behind.
  const unwritten: object[] = [];
  let firstStepDone = false;
  const log = (record: object) => {
    if (!metricsPath) return;
    unwritten.push(record);
    if (!firstStepDone) return;
    mkdirSync(run.out!, { recursive: true });
    appendFileSync(metricsPath, unwritten.map((r) => `${JSON.stringify(r)}\n`).join(''));
    unwritten.length = 0;
  };

  let lastEvaluation: SimilarityEvaluation | null = null;
  const checkpoint = async () => {
    if (!run.out) return;
    state = { ...state, batcher: batcher.state() };
    writeModelDir(run.out, {
      config: run.loaded.config,
      vocab: run.loaded.vocab,
      weights: await downloadWeights(model.weights),
      optimizer: await optimizer.exportState(),
      trainerState: state,
    });
    events?.checkpoint?.(run.out);
  };

  const evaluate = async (epoch: number) => {
    if (!run.test) return;
    const { metrics } = await evaluatePairs(model, tokenizer, run.test.pairs, {
      maxlen: options.maxlen, batchSize: options.evalBatchSize ?? 64, threshold: options.threshold, graded: run.test.graded,
    });
    lastEvaluation = metrics;
    // Epoch 0 is the model before training: where accuracy starts, not a result to keep.
    const best = epoch === 0 ? state.bestAccuracy : Math.max(state.bestAccuracy ?? -Infinity, metrics.accuracy);
    state = { ...state, bestAccuracy: best };
    const record: EpochRecord = { epoch, ...metricsRecord(metrics), best_accuracy: best !== null && Number.isFinite(best) ? best : null };
    log(record);
    events?.epoch?.(record);
  };
  if (!run.resume) await evaluate(0);

  /**
   * A recorded step whose losses are still on their way back. Its own time runs from when it
   * started (batch building) or, if later, when the step before it came back, until its own losses
   * came back: steps overlap on the GPU, so that is each step's share of the wall time.
   */
  type Pending = { step: number; epoch: number; rows: number; tokens: number; losses: Promise<number[]>; started: number; returnedAt: () => number };
  let pending: Pending | null = null;
  let previousReturned = -Infinity;
  const finish = async (p: Pending) => {
    const [loss, seq2seq, similarity] = await p.losses;
    const returned = p.returnedAt();
    const seconds = (returned - Math.max(p.started, previousReturned)) / 1000;
    previousReturned = returned;
    const record: StepRecord = {
      step: p.step, epoch: p.epoch, loss, seq2seq_loss: seq2seq, similarity_loss: similarity, lr: options.lr,
      seconds, rows_per_second: p.rows / seconds, rows: p.rows, tokens_per_row: p.tokens,
    };
    if (![loss, seq2seq, similarity].every(Number.isFinite)) {
      throw new Error(`step ${p.step}: the loss is not finite (${loss}); lower --lr or check the data`);
    }
    firstStepDone = true;
    log(record);
    events?.step?.(record);
  };

  while (state.step < totalSteps) {
    const started = performance.now();
    const epoch = Math.floor(state.step / batcher.stepsPerEpoch) + 1;
    const batch = batcher.next();
    const encoded = padRows(batch.rows.map((row) => tokenizer.encode(row.source, row.target, options.maxlen)));
    const stepNumber = state.step + 1;
    const losses = scope(() => {
      const out = model.loss(encoded, { training: true, seed: stepSeed(options.seed, stepNumber), dropout: options.dropout });
      backward(out.total);
      return [out.total, out.seq2seq, out.similarity];
    });
    optimizer.step();
    for (const weight of model.weights.values()) {
      weight.grad?.release();
      weight.grad = null;
    }
    let returned = NaN;
    const reading = readLosses(losses).then((values) => {
      returned = performance.now();
      return values;
    });
    if (pending) await finish(pending);
    pending = { step: stepNumber, epoch, rows: encoded.batch, tokens: encoded.seqLen, losses: reading, started, returnedAt: () => returned };
    state = { ...state, step: stepNumber };

    const epochDone = stepNumber % batcher.stepsPerEpoch === 0;
    if (epochDone || stepNumber === totalSteps) {
      await finish(pending);
      pending = null;
    }
    if (epochDone) {
      state = { ...state, epoch };
      await evaluate(epoch);
      await checkpoint();
    }
  }
  if (pending) await finish(pending);
  if (state.step % batcher.stepsPerEpoch !== 0 || state.step === 0) await checkpoint();
  optimizer.release();
  return { state, lastEvaluation };
}

/** Starts every readback at once (so they go out with the step just recorded) and frees the tensors after. */
async function readLosses(tensors: Tensor[]): Promise<number[]> {
  try {
    return await Promise.all(tensors.map((tensor) => tensor.item()));
  } finally {
    for (const tensor of tensors) tensor.release();
  }
}
