/**
 * Training-step and encoding benchmarks of the whole SimBERT model (random weights).
 *
 * A step is recorded as the trainer records it: forward with dropout, both losses, backward,
 * AdamW, gradients released; nothing is read back inside a step. Each sample is that step plus a
 * wait for the GPU to finish it (one submission + round trip, ~60 us); the last loss is read back
 * after the samples. CPU time is the Node main thread's (utime + stime of /proc/self/task/<pid>).
 */
import { readFileSync } from 'node:fs';
import { AdamW } from '../src/autograd/adamw.js';
import { activeGpu } from '../src/autograd/engine.js';
import { backward } from '../src/autograd/tape.js';
import { scope, Tensor } from '../src/autograd/tensor.js';
import { SimBert, type BertBatch } from '../src/model/bert.js';
import { convertForInference } from '../src/model/inference.js';
import type { BertConfig } from '../src/model/config.js';
import { randomWeightArrays, uploadWeights } from '../src/model/parameters.js';
import { medianEncodeMs } from './encode-timing.js';
import { median } from './stats.js';
import { warmGpu } from './warm-gpu.js';

export const SEED_VOCAB = 13584;

export interface ModelConfigSpec {
  name: string;
  layers: number;
  hidden: number;
  heads: number;
  intermediate: number;
  vocab: number;
}

export const SMALL: ModelConfigSpec = { name: 'small', layers: 2, hidden: 128, heads: 2, intermediate: 512, vocab: SEED_VOCAB };
export const SEED: ModelConfigSpec = { name: 'seed', layers: 3, hidden: 768, heads: 12, intermediate: 3072, vocab: SEED_VOCAB };
/** BERT-base with the simplified vocabulary: the memory stretch goal (opt-in, ~3 minutes on lavapipe). */
export const BASE: ModelConfigSpec = { name: 'base (12 layers)', layers: 12, hidden: 768, heads: 12, intermediate: 3072, vocab: SEED_VOCAB };

export function bertConfig(spec: ModelConfigSpec): BertConfig {
  return {
    vocabSize: spec.vocab,
    hiddenSize: spec.hidden,
    numHiddenLayers: spec.layers,
    numAttentionHeads: spec.heads,
    intermediateSize: spec.intermediate,
    hiddenAct: 'gelu',
    hiddenDropoutProb: 0.1,
    attentionProbsDropoutProb: 0.1,
    maxPositionEmbeddings: 512,
    typeVocabSize: 2,
    initializerRange: 0.02,
  };
}

/**
 * `rows` rows of `tokens` tokens: [CLS] a [SEP] b [SEP] with the two texts splitting the row
 * (segment 0 then 1), random word-piece ids; the same layout as torch-baseline.py.
 */
export function benchBatch(rows: number, tokens: number, vocab: number, singleSegment = false): BertBatch {
  const tokenIds = new Int32Array(rows * tokens);
  const segmentIds = new Int32Array(rows * tokens);
  let state = 12345;
  const next = () => (state = (state * 1103515245 + 12345) >>> 0);
  const firstLength = singleSegment ? tokens : 2 + Math.floor((tokens - 3) / 2);
  for (let r = 0; r < rows; r++) {
    for (let t = 0; t < tokens; t++) {
      const i = r * tokens + t;
      const special = t === 0 ? 2 : t === firstLength - 1 || t === tokens - 1 ? 3 : 0;
      tokenIds[i] = special || 5 + (next() % (vocab - 5));
      segmentIds[i] = t >= firstLength ? 1 : 0;
    }
  }
  return { batch: rows, seqLen: tokens, tokenIds, segmentIds };
}

/** utime + stime of the Node main thread, in milliseconds. */
export function mainThreadCpuMs(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

export interface StepResult {
  config: string;
  rows: number;
  tokens: number;
  medianMs: number;
  samples: number;
  cpuMsPerStep: number;
  dispatches: number;
  submissions: number;
  peakBytes: number;
  loss: number;
  /** Distinct pipelines one step dispatches. */
  pipelines: number;
}

/** A model of `spec` with the benches' random weights, and its release (weights, then the pool's free buffers). */
export function randomModel(spec: ModelConfigSpec): { model: SimBert; weights: Map<string, Tensor>; release: () => void } {
  const config = bertConfig(spec);
  const weights = uploadWeights(config, randomWeightArrays(config, 7));
  const release = () => {
    for (const weight of weights.values()) weight.release();
    activeGpu().pool.trim();
  };
  return { model: new SimBert(config, weights), weights, release };
}

/** One training step as the benches run it: loss, backward, AdamW, gradients released. Returns the loss (the caller releases it). */
export function trainingStep(model: SimBert, weights: Map<string, Tensor>, optimizer: AdamW, batch: BertBatch, seed: number): Tensor {
  const total = scope(() => {
    const out = model.loss(batch, { training: true, seed });
    backward(out.total);
    return out.total;
  });
  optimizer.step();
  for (const weight of weights.values()) {
    weight.grad?.release();
    weight.grad = null;
  }
  return total;
}

/** ms per training step (median), main-thread CPU per step, dispatches and submissions per step, peak pool bytes. */
export async function benchStep(spec: ModelConfigSpec, rows: number, tokens: number, samples: number): Promise<StepResult> {
  const gpu = activeGpu();
  const { model, weights, release } = randomModel(spec);
  const optimizer = new AdamW(weights, { lr: 2e-6, weightDecay: 0.01 });
  const batch = benchBatch(rows, tokens, spec.vocab);
  let last: Tensor | null = null;
  const step = (seed: number) => {
    last?.release();
    last = trainingStep(model, weights, optimizer, batch, seed);
  };
  // Warm-up: compiles every pipeline and fills the pool's free lists.
  gpu.resetPipelineUse();
  step(1);
  await gpu.sync();
  const pipelines = gpu.pipelinesUsed();
  await warmGpu();
  gpu.pool.resetPeaks();
  const times: number[] = [];
  const cpu: number[] = [];
  const dispatches: number[] = [];
  const submissions: number[] = [];
  for (let i = 0; i < samples; i++) {
    const counters = { ...gpu.counters };
    const cpu0 = mainThreadCpuMs();
    const started = performance.now();
    step(2 + i);
    gpu.submit();
    dispatches.push(gpu.counters.dispatches - counters.dispatches);
    submissions.push(gpu.counters.submissions - counters.submissions);
    await gpu.sync();
    times.push(performance.now() - started);
    cpu.push(mainThreadCpuMs() - cpu0);
  }
  const peakBytes = gpu.pool.snapshot().peakBytesInUse;
  const loss = last ? (await (last as Tensor).toArray())[0] : NaN;
  (last as Tensor | null)?.release();
  optimizer.release();
  release();
  return {
    config: spec.name, rows, tokens, medianMs: median(times), samples, cpuMsPerStep: median(cpu),
    dispatches: median(dispatches), submissions: median(submissions), peakBytes, loss, pipelines,
  };
}

export interface EncodeResult {
  config: string;
  rows: number;
  tokens: number;
  medianMs: number;
  sentencesPerSecond: number;
  samples: number;
}

/** Sentences per second encoding `rows` single texts of `tokens` tokens (no grad, pooled vectors read back). */
export async function benchEncode(spec: ModelConfigSpec, rows: number, tokens: number, samples: number): Promise<EncodeResult> {
  const random = randomModel(spec);
  // As the CLI's encode loads it: dense kernels in the inference layout.
  const model = convertForInference(random.model);
  const batch = benchBatch(rows, tokens, spec.vocab, true);
  const ms = await medianEncodeMs(model, batch, samples);
  random.release();
  return { config: spec.name, rows, tokens, medianMs: ms, sentencesPerSecond: (rows * 1000) / ms, samples };
}
