import { SimBert } from '../model/bert.js';
import { uploadWeights } from '../model/parameters.js';
import { Tokenizer } from '../model/tokenizer.js';
import { demoTrainOptions, prepareDemoRun, RECIPE } from '../train/demo-recipe.js';
import { train, type EpochRecord, type StepRecord } from '../train/trainer.js';
import { BrowserModel } from './browser-model.js';
import { openEngine, type EngineOptions } from './engine.js';

export type { EpochRecord, StepRecord } from '../train/trainer.js';

export interface TrainDemoOptions extends EngineOptions {
  /** Epochs to train (default 3, as the CLI demo). */
  epochs?: number;
  /** Stop after this many steps in all. */
  maxSteps?: number;
  /** Seed of batches, dropout and the random initialisation (default 42, as the CLI). */
  seed?: number;
  /** Aborting it ends the run after the step in flight; the model trained so far is returned. */
  signal?: AbortSignal;
}

/** A step's losses, or an evaluation on the demo's test pairs (epoch 0: before training), as metrics.jsonl records them. */
export type TrainDemoEvent =
  | { kind: 'step'; record: StepRecord; totalSteps: number }
  | { kind: 'epoch'; record: EpochRecord; totalSteps: number };

export interface TrainDemoResult {
  /** The trained model, on the page's GPU. */
  model: BrowserModel;
  steps: number;
  /** Ended early because the signal was aborted. */
  stopped: boolean;
  /** Test accuracy at the last evaluation, or null when none ran. */
  accuracy: number | null;
}

/**
 * Trains the CLI's demo (`simbert train` without data: a tiny BERT from random initialisation on
 * the generated paraphrases, with the recipe) in the page, reporting every step and evaluation.
 * Nothing is saved; the trained model is returned for encode, similar and generate.
 */
export async function trainDemo(options: TrainDemoOptions = {}, onProgress: (event: TrainDemoEvent) => void = () => {}): Promise<TrainDemoResult> {
  const gpu = await openEngine(options);
  const seed = options.seed ?? RECIPE.seed;
  const demo = prepareDemoRun(seed);
  const model = new SimBert(demo.config, uploadWeights(demo.config, demo.weights));
  const tokenizer = new Tokenizer(demo.vocab);
  let totalSteps = 0;
  try {
    const result = await train({
      model,
      tokenizer,
      loaded: { config: demo.config, vocab: demo.vocab, weights: demo.weights, optimizer: null, description: 'random initialisation (demo)' },
      groups: demo.groups,
      test: demo.test,
      options: demoTrainOptions({ epochs: options.epochs, maxSteps: options.maxSteps, seed }),
      output: null,
      data: { kind: 'demo', train: 'demo-data/train.json', test: 'demo-data/test.txt' },
      events: {
        stepsPerEpoch: (_, total) => {
          totalSteps = total;
        },
        step: (record) => onProgress({ kind: 'step', record, totalSteps }),
        epoch: (record) => onProgress({ kind: 'epoch', record, totalSteps }),
      },
      stopRequested: () => options.signal?.aborted === true,
    });
    return { model: new BrowserModel(gpu, model, tokenizer, 'the demo trained in this page'), steps: result.steps, stopped: result.stopped, accuracy: result.lastEvaluation?.accuracy ?? null };
  } catch (error) {
    for (const weight of model.weights.values()) weight.release();
    throw error;
  }
}
