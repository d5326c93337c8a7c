/**
 * The trainer's own speed: `train` (src/train/trainer.ts) run on generated paraphrase groups of
 * real-shaped text, so every cost a user pays per step is in the figure (tokenization, padding
 * to the batch's longest row, pipelines for new lengths, readbacks), and `encode`'s path
 * (encodeTexts: tokenization, length-sorted batches, pooled vectors read back).
 *
 * Texts are random CJK characters (one word piece each) of a vocabulary as large as the
 * config's; a row is [CLS] a [SEP] b [SEP], so texts of `chars` characters make rows of
 * 3 + the two lengths, cut to maxlen.
 */
import { train, type StepRecord } from '../src/train/trainer.js';
import { encodeTexts } from '../src/train/encode.js';
import { SimBert } from '../src/model/bert.js';
import { convertForInference } from '../src/model/inference.js';
import { randomWeightArrays, uploadWeights } from '../src/model/parameters.js';
import { Tokenizer } from '../src/model/tokenizer.js';
import { SeededRandom } from '../src/model/random.js';
import type { Vocab } from '../src/model/vocab.js';
import { activeGpu } from '../src/autograd/engine.js';
import { bertConfig, type ModelConfigSpec } from './step.js';
import { median } from './stats.js';
import { warmGpu } from './warm-gpu.js';

const SPECIAL = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
const FIRST_CJK = 0x4e00;

/** [PAD], [UNK], [CLS], [SEP], [MASK], then CJK characters up to `size` tokens. */
export function benchVocab(size: number): Vocab {
  const tokens = [...SPECIAL, ...Array.from({ length: size - SPECIAL.length }, (_, i) => String.fromCodePoint(FIRST_CJK + i))];
  return { tokens, ids: new Map(tokens.map((token, id) => [token, id])) };
}

/** `count` groups of 2-4 texts, each of `chars` = [min, max] random characters of the vocabulary. */
export function benchGroups(vocab: Vocab, count: number, chars: [number, number], seed: number): string[][] {
  const random = new SeededRandom(seed);
  const characters = vocab.tokens.length - SPECIAL.length;
  const text = () => {
    const length = chars[0] + random.nextInt(chars[1] - chars[0] + 1);
    return Array.from({ length }, () => String.fromCodePoint(FIRST_CJK + random.nextInt(characters))).join('');
  };
  return Array.from({ length: count }, () => Array.from({ length: 2 + random.nextInt(3) }, text));
}

export interface TrainShape {
  /** Characters per text; a row holds two texts and three special tokens. */
  chars: [number, number];
  maxlen: number;
  batchSize: number;
}

/** Pairs of 13-15 characters: rows of 29-33 tokens cut to 32, as LCQMC's seed-shaped batches (28-32). */
export const TRAIN_32: TrainShape = { chars: [13, 15], maxlen: 32, batchSize: 16 };
/** Rows that fill 128 tokens. */
export const TRAIN_128: TrainShape = { chars: [60, 66], maxlen: 128, batchSize: 16 };

export interface TrainResult {
  config: string;
  rows: number;
  maxlen: number;
  steps: number;
  /** Mean of every step's `seconds` (what metrics.jsonl says), the first step included. */
  meanMs: number;
  /** Mean of the steps after the first (which compiles the pipelines). */
  meanAfterFirstMs: number;
  firstMs: number;
  /** Mean tokens per row (the batch's longest row). */
  tokensPerRow: number;
  /** Wall time of the whole train() call over the number of steps. */
  wallMsPerStep: number;
  pipelines: number;
}

/** Runs `train` for `steps` steps (no test set, no output directory) on a random model of `spec`. */
export async function benchTrain(spec: ModelConfigSpec, shape: TrainShape, steps: number): Promise<TrainResult> {
  const gpu = activeGpu();
  const config = bertConfig(spec);
  const vocab = benchVocab(spec.vocab);
  const weights = randomWeightArrays(config, 7);
  const tensors = uploadWeights(config, weights);
  const model = new SimBert(config, tensors);
  const groups = benchGroups(vocab, shape.batchSize * steps, shape.chars, 11);
  const records: StepRecord[] = [];
  const pipelines = gpu.counters.pipelines;
  await warmGpu();
  const started = performance.now();
  await train({
    model, tokenizer: new Tokenizer(vocab), loaded: { config, vocab, weights, optimizer: null, description: 'bench' },
    groups, test: null, output: null, data: { train: 'bench groups', test: null },
    options: {
      maxlen: shape.maxlen, batchSize: shape.batchSize, epochs: 1, stepsPerEpoch: steps, lr: 2e-6, weightDecay: 0.01,
      threshold: 0.8, seed: 1, shuffle: true,
    },
    events: { step: (record) => records.push(record) },
  });
  const wall = performance.now() - started;
  for (const tensor of tensors.values()) tensor.release();
  gpu.pool.trim();
  const ms = records.map((r) => r.seconds * 1000);
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  return {
    config: spec.name, rows: shape.batchSize, maxlen: shape.maxlen, steps: records.length,
    meanMs: mean(ms), meanAfterFirstMs: mean(ms.slice(1)), firstMs: ms[0],
    tokensPerRow: mean(records.map((r) => r.tokens_per_row)), wallMsPerStep: wall / records.length,
    pipelines: gpu.counters.pipelines - pipelines,
  };
}

/**
 * Multiply-add FLOPs (x 2) of encoding rows of `tokens` tokens through every layer on every token,
 * attention included, and the pooler: what "effective GFLOP/s" divides by, for us and PyTorch
 * alike (both skip some of the last layer for pooled vectors, so this overstates the work done).
 */
export function encodeFlops(spec: ModelConfigSpec, rows: number, tokens: number): number {
  const { hidden: h, intermediate: i, layers } = spec;
  const perTokenLayer = 4 * h * h + 2 * h * i;
  const attentionPerRowLayer = 2 * tokens * tokens * h;
  return 2 * (rows * layers * (tokens * perTokenLayer + attentionPerRowLayer) + rows * h * h);
}

export interface EncodePathResult {
  config: string;
  texts: number;
  tokens: number;
  medianMs: number;
  sentencesPerSecond: number;
  gflops: number;
  samples: number;
}

/** encodeTexts on `texts` texts of tokens - 2 characters each ([CLS] text [SEP] = `tokens`), median of `samples`. */
export async function benchEncodePath(spec: ModelConfigSpec, texts: number, tokens: number, samples: number): Promise<EncodePathResult> {
  const config = bertConfig(spec);
  const vocab = benchVocab(spec.vocab);
  const tensors = uploadWeights(config, randomWeightArrays(config, 7));
  // As the CLI's encode loads it: dense kernels in the inference layout.
  const model = convertForInference(new SimBert(config, tensors));
  const tokenizer = new Tokenizer(vocab);
  const inputs = benchGroups(vocab, texts, [tokens - 2, tokens - 2], 5).map((group) => group[0]);
  const options = { maxlen: tokens, batchSize: texts };
  await encodeTexts(model, tokenizer, inputs, options);
  await warmGpu();
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const started = performance.now();
    await encodeTexts(model, tokenizer, inputs, options);
    times.push(performance.now() - started);
  }
  for (const tensor of tensors.values()) tensor.release();
  activeGpu().pool.trim();
  const ms = median(times);
  return {
    config: spec.name, texts, tokens, medianMs: ms, sentencesPerSecond: (texts * 1000) / ms,
    gflops: encodeFlops(spec, texts, tokens) / ms / 1e6, samples,
  };
}
