import { AdamW } from '../autograd/adamw.js';
import { add } from '../autograd/ops/elementwise.js';
import { sum } from '../autograd/ops/reduce.js';
import { backward, noGrad } from '../autograd/tape.js';
import { scope, type Tensor } from '../autograd/tensor.js';
import type { SimBert } from '../model/bert.js';
import { downloadWeights } from '../model/parameters.js';
import type { Tokenizer } from '../model/tokenizer.js';
import { PairBatcher } from './batches.js';
import type { TestPairs } from './data.js';
import { DivergenceGuard } from './divergence.js';
import { evaluatePairs, padRows } from './encode.js';
import { metricsRecord, type MetricsRecord, type SimilarityEvaluation } from './metrics.js';
import type { LoadedModel } from '../model/model-folder.js';
import type { RunOutput } from './run-output.js';
import type { TrainerState, TrainOptions } from './trainer-state.js';

export type { TrainerState, TrainOptions } from './trainer-state.js';

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
  /** Present on a step whose loss or gradient was not finite and whose update was skipped. */
  skipped?: true;
}

export interface EpochRecord extends MetricsRecord {
  epoch: number;
  best_accuracy: number | null;
}

export interface TrainerEvents {
  stepsPerEpoch?(steps: number, totalSteps: number): void;
  step?(record: StepRecord): void;
  epoch?(record: EpochRecord): void;
  checkpoint?(location: string): void;
  /** Runs after each epoch's evaluation (the CLI shows paraphrases); a record it returns goes to metrics.jsonl. */
  afterEpoch?(epoch: number): Promise<object | undefined>;
}

export interface TrainRun {
  model: SimBert;
  tokenizer: Tokenizer;
  loaded: LoadedModel;
  groups: string[][];
  test: TestPairs | null;
  options: TrainOptions;
  /** Where metrics and checkpoints go; null trains without saving anything. */
  output: RunOutput | null;
  data: TrainerState['data'];
  resume?: TrainerState;
  events?: TrainerEvents;
  /** Checked between steps: once it returns true the run checkpoints the last step and returns. */
  stopRequested?: () => boolean;
}

export interface TrainResult {
  state: TrainerState;
  lastEvaluation: SimilarityEvaluation | null;
  /** The run ended early because stopRequested said so. */
  stopped: boolean;
  /** Steps taken by this call (0 when a resumed run had nothing left to do). */
  steps: number;
}

/** The run diverged (see DivergenceGuard); the message names the step and what to try. */
export class DivergenceError extends Error {
  constructor(step: number, reason: string) {
    super(`step ${step} diverged: ${reason}. Lower --lr, or allow a few non-finite steps to be skipped with --skip-nonfinite N; nothing of the diverged steps was saved`);
    this.name = 'DivergenceError';
  }
}

function stepSeed(seed: number, step: number): number {
  // Distinct dropout masks per step, reproducible from the run seed and the step number.
  return ((seed >>> 0) * 7919 + step) % 1_048_576;
}

/**
 * The SimBERT training loop: batches as the recipe's generator, one recorded step per batch
 * (forward, both losses, backward, AdamW) whose losses are read back a step late, evaluation
 * and a checkpoint at every epoch end, and metrics records handed to the run's output.
 *
 * Every loss passes the divergence guard; a diverged run throws DivergenceError before any
 * checkpoint of it is written. With options.skipNonfinite > 0 each step's loss and gradients are
 * checked before the update (costing the late readback) and up to that many non-finite steps are
 * skipped without an update.
 */
export async function train(run: TrainRun): Promise<TrainResult> {
  const { model, tokenizer, options, events, output } = run;
  // Checkpoints and the optimizer's slots are in TensorFlow's layout; an inference model's kernels are not.
  if (model.transposedKernels) throw new Error('train needs a model in TensorFlow\'s layout, not one converted for inference');
  const batcher = new PairBatcher(run.groups, {
    batchSize: options.batchSize,
    seed: options.seed,
    shuffle: options.shuffle,
    stepsPerEpoch: options.stepsPerEpoch,
  });
  const optimizer = new AdamW(model.weights, { lr: options.lr, weightDecay: options.weightDecay });
  // A resumed run keeps its state but saves the options it now runs with (a raised --epochs, say).
  let state: TrainerState = run.resume ? { ...run.resume, options } : {
    version: 1, step: 0, epoch: 0, bestAccuracy: null, batcher: batcher.state(), options, data: run.data,
    optimizerStep: 0, skippedSteps: 0, losses: { first: null, recent: [] },
  };
  if (run.resume) {
    batcher.restore(run.resume.batcher);
    if (!run.loaded.optimizer) throw new Error('the checkpoint to resume has no optimizer state (Adam slots)');
    optimizer.importState(run.loaded.optimizer);
  }
  const guard = new DivergenceGuard(state.losses);
  const skipAllowed = options.skipNonfinite ?? 0;
  const totalSteps = Math.min(options.epochs * batcher.stepsPerEpoch, options.maxSteps ?? Infinity);
  events?.stepsPerEpoch?.(batcher.stepsPerEpoch, totalSteps);
  // Nothing is written until the first step has run, so a run that fails at once (a memory
  // limit too small, say) leaves no half-made output behind.
  const unwritten: object[] = [];
  let firstStepDone = false;
  const log = (record: object) => {
    if (!output) return;
    unwritten.push(record);
    if (!firstStepDone) return;
    output.appendMetrics(unwritten);
    unwritten.length = 0;
  };

  let lastEvaluation: SimilarityEvaluation | null = null;
  const checkpoint = async () => {
    state = { ...state, batcher: batcher.state(), optimizerStep: optimizer.stepCount, losses: guard.history() };
    if (!output) return;
    const location = output.writeCheckpoint({
      config: run.loaded.config,
      vocab: run.loaded.vocab,
      weights: await downloadWeights(model.weights),
      optimizer: await optimizer.exportState(),
      trainerState: state,
    });
    events?.checkpoint?.(location);
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
  if (!run.resume && !run.stopRequested?.()) await evaluate(0);

  /**
   * A recorded step whose losses are still on their way back. Its own time runs from when it
   * started (batch building) or, if later, when the step before it came back, until its own losses
   * came back: steps overlap on the GPU, so that is each step's share of the wall time.
   */
  type Pending = { step: number; epoch: number; rows: number; tokens: number; losses: Promise<number[]>; skipped: boolean; started: number; returnedAt: () => number };
  let pending: Pending | null = null;
  let previousReturned = -Infinity;
  const finish = async (p: Pending) => {
    const [loss, seq2seq, similarity] = await p.losses;
    const returned = p.returnedAt();
    const seconds = (returned - Math.max(p.started, previousReturned)) / 1000;
    previousReturned = returned;
    const record: StepRecord = {
      step: p.step, epoch: p.epoch, loss, seq2seq_loss: seq2seq, similarity_loss: similarity, lr: options.lr,
      seconds, rows_per_second: p.rows / seconds, rows: p.rows, tokens_per_row: p.tokens, ...(p.skipped ? { skipped: true as const } : {}),
    };
    if (!p.skipped) {
      const divergence = guard.check(loss);
      if (divergence) throw new DivergenceError(p.step, divergence);
    }
    firstStepDone = true;
    log(record);
    events?.step?.(record);
  };

  let stopped = false;
  while (state.step < totalSteps) {
    if (run.stopRequested?.()) {
      stopped = true;
      break;
    }
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
    const skipped = skipAllowed > 0 && !(await lossAndGradientsFinite(losses[0], model.weights));
    if (skipped) {
      state = { ...state, skippedSteps: state.skippedSteps + 1 };
      if (state.skippedSteps > skipAllowed) {
        releaseAll(losses);
        throw new DivergenceError(stepNumber, `${state.skippedSteps} steps had a non-finite loss or gradient, more than --skip-nonfinite ${skipAllowed} allows`);
      }
    } else optimizer.step();
    for (const weight of model.weights.values()) {
      weight.grad?.release();
      weight.grad = null;
    }
    let returned = NaN;
    const reading = readLosses(losses).then((values) => {
      returned = performance.now();
      return values;
    });
    // Should finishing the previous step throw (divergence, a lost device), this readback is never awaited.
    reading.catch(() => undefined);
    if (pending) await finish(pending);
    pending = { step: stepNumber, epoch, rows: encoded.batch, tokens: encoded.seqLen, losses: reading, skipped, started, returnedAt: () => returned };
    state = { ...state, step: stepNumber };

    const epochDone = stepNumber % batcher.stepsPerEpoch === 0;
    // The run's first step (the first use of its pipelines) is back before the second is
    // recorded. On lavapipe, overlapping the two stalled the main thread for the whole of the
    // second step just as the first came back, so both steps' losses arrived together and the
    // second was charged ~0 s; the overlap lost costs one recording (~30 ms).
    if (epochDone || stepNumber === totalSteps || !firstStepDone) {
      await finish(pending);
      pending = null;
    }
    if (epochDone) {
      state = { ...state, epoch };
      await evaluate(epoch);
      const shown = await events?.afterEpoch?.(epoch);
      if (shown) log(shown);
      await checkpoint();
    }
  }
  if (pending) await finish(pending);
  const steps = state.step - (run.resume?.step ?? 0);
  if (steps > 0 && state.step % batcher.stepsPerEpoch !== 0) await checkpoint();
  optimizer.release();
  return { state, lastEvaluation, stopped, steps };
}

/** One readback of the loss plus the sum of every gradient: finite exactly when nothing overflowed. */
async function lossAndGradientsFinite(loss: Tensor, weights: Map<string, Tensor>): Promise<boolean> {
  const total = noGrad(() =>
    scope(() => {
      let acc = sum(loss);
      for (const weight of weights.values()) if (weight.grad) acc = add(acc, sum(weight.grad));
      return acc;
    }),
  );
  try {
    return Number.isFinite(await total.item());
  } finally {
    total.release();
  }
}

function releaseAll(tensors: Tensor[]): void {
  for (const tensor of tensors) tensor.release();
}

/** Starts every readback at once (so they go out with the step just recorded) and frees the tensors after. */
async function readLosses(tensors: Tensor[]): Promise<number[]> {
  try {
    return await Promise.all(tensors.map((tensor) => tensor.item()));
  } finally {
    releaseAll(tensors);
  }
}
