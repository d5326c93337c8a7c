/**
 * Where `train` spends its time against the bench's step on the same shapes: pipeline compiles
 * (and which pipelines), tokenization and batch building on the main thread, the main thread's
 * CPU against its idle (waiting) time, the evaluation, the checkpoint write, and every step's
 * seconds beside the bench step's.
 *
 *   node build/bench/profile-train.js [small|seed] [32|128] [steps]
 *
 * For a cold shader cache, run it with XDG_CACHE_HOME set to a new, empty directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KernelSource } from '../src/gpu/kernel.js';
import { SimBert } from '../src/model/bert.js';
import { initNodeEngine } from '../src/node/gpu.js';
import { RunDirectory } from '../src/node/run-directory.js';
import { randomWeightArrays, uploadWeights } from '../src/model/parameters.js';
import { Tokenizer } from '../src/model/tokenizer.js';
import { train, type StepRecord } from '../src/train/trainer.js';
import { benchStep, bertConfig, mainThreadCpuMs, SEED, SMALL } from './step.js';
import { benchGroups, benchVocab, TRAIN_128, TRAIN_32 } from './train.js';

const spec = process.argv[2] === 'seed' ? SEED : SMALL;
const shape = process.argv[3] === '128' ? TRAIN_128 : TRAIN_32;
const steps = Number(process.argv[4] ?? 8);
const gpu = await initNodeEngine();
const load = loadavg()[0];

// Pipeline compiles: the first request of each kernel source compiles it; later ones are cache hits.
const compiles = new Map<string, { count: number; ms: number }>();
const kernel = gpu.kernel.bind(gpu);
gpu.kernel = (source: KernelSource) => {
  const before = gpu.counters.pipelines;
  const started = performance.now();
  const compiled = kernel(source);
  if (gpu.counters.pipelines > before) {
    const entry = compiles.get(source.name) ?? { count: 0, ms: 0 };
    entry.count++;
    entry.ms += performance.now() - started;
    compiles.set(source.name, entry);
  }
  return compiled;
};

const config = bertConfig(spec);
const vocab = benchVocab(spec.vocab);
const tokenizer = new Tokenizer(vocab);
let tokenizeMs = 0;
const encode = tokenizer.encode.bind(tokenizer);
tokenizer.encode = (first, second, maxlen) => {
  const started = performance.now();
  const encoding = encode(first, second, maxlen);
  tokenizeMs += performance.now() - started;
  return encoding;
};

const weights = randomWeightArrays(config, 7);
const model = new SimBert(config, uploadWeights(config, weights));
const groups = benchGroups(vocab, shape.batchSize * steps, shape.chars, 11);
const testTexts = benchGroups(vocab, 64, shape.chars, 13);
const test = { pairs: testTexts.map((group, i) => ({ a: group[0], b: group[1], label: i % 2 })), graded: false };
const dir = mkdtempSync(join(tmpdir(), 'simbert-profile-'));
const output = RunDirectory.open(join(dir, 'run'), { mode: 'new', command: 'profile-train', note: (message) => console.error(message) });

const marks: { what: string; at: number; cpu: number }[] = [];
const mark = (what: string) => marks.push({ what, at: performance.now(), cpu: mainThreadCpuMs() });
const records: StepRecord[] = [];
mark('start');
await train({
  model, tokenizer, loaded: { config, vocab, weights, optimizer: null, description: 'profile' }, groups, test, output, data: { train: 'profile groups', test: 'profile pairs' },
  options: { maxlen: shape.maxlen, batchSize: shape.batchSize, epochs: 1, stepsPerEpoch: steps, lr: 2e-6, weightDecay: 0.01, threshold: 0.8, seed: 1, shuffle: true },
  events: {
    step: (record) => {
      records.push(record);
      mark(`step ${record.step}`);
    },
    epoch: (record) => mark(`evaluation ${record.epoch}`),
    checkpoint: () => mark('checkpoint'),
  },
});
mark('end');
output.close(true);
rmSync(dir, { recursive: true, force: true });
for (const weight of model.weights.values()) weight.release();
gpu.pool.trim();
const pipelinesInTrain = [...compiles.values()].reduce((sum, c) => sum + c.count, 0);
const compileMsInTrain = [...compiles.values()].reduce((sum, c) => sum + c.ms, 0);
const bench = await benchStep(spec, shape.batchSize, shape.maxlen, 3);

const between = (from: string, to: string) => {
  const a = marks.find((m) => m.what === from)!;
  const b = marks.find((m) => m.what === to)!;
  return { ms: b.at - a.at, cpu: b.cpu - a.cpu };
};
const fmt = (value: number) => value.toFixed(0);
const total = between('start', 'end');
const stepMs = records.map((r) => r.seconds * 1000);
const stepsWall = between(`evaluation 0`, `step ${records.length}`);
console.log(`# profile of train: ${spec.name}, ${shape.batchSize} rows x maxlen ${shape.maxlen}, ${records.length} steps (load average ${load.toFixed(2)} on this machine)`);
console.log();
console.log('| where | wall ms | main-thread CPU ms |');
console.log('|---|---:|---:|');
console.log(`| whole train() call | ${fmt(total.ms)} | ${fmt(total.cpu)} |`);
console.log(`| evaluation before training (${test.pairs.length} pairs) | ${fmt(between('start', 'evaluation 0').ms)} | ${fmt(between('start', 'evaluation 0').cpu)} |`);
console.log(`| the steps (first batch built to last loss back) | ${fmt(stepsWall.ms)} | ${fmt(stepsWall.cpu)} |`);
console.log(`|   of which pipeline compiles (${pipelinesInTrain} pipelines, main thread) | ${fmt(compileMsInTrain)} | |`);
console.log(`|   of which tokenization (main thread, all steps and both evaluations) | ${fmt(tokenizeMs)} | |`);
console.log(`| evaluation after the epoch | ${fmt(between(`step ${records.length}`, 'evaluation 1').ms)} | ${fmt(between(`step ${records.length}`, 'evaluation 1').cpu)} |`);
console.log(`| checkpoint write | ${fmt(between('evaluation 1', 'checkpoint').ms)} | ${fmt(between('evaluation 1', 'checkpoint').cpu)} |`);
console.log();
console.log(`Steps' seconds (metrics.jsonl) in ms: ${stepMs.map(fmt).join(', ')}; mean ${fmt(stepMs.reduce((a, b) => a + b, 0) / stepMs.length)}, after the first ${fmt(stepMs.slice(1).reduce((a, b) => a + b, 0) / (stepMs.length - 1))}.`);
console.log(`Tokens per row: ${records.map((r) => r.tokens_per_row).join(', ')}.`);
console.log(`The bench's step on full ${shape.maxlen}-token rows, same process: ${fmt(bench.medianMs)} ms (main-thread CPU ${fmt(bench.cpuMsPerStep)} ms, ${bench.dispatches} dispatches, ${bench.pipelines} distinct pipelines).`);
console.log();
console.log('Pipelines compiled during train(), by kernel (wall ms of the compiling calls):');
for (const [name, c] of [...compiles].sort((x, y) => y[1].ms - x[1].ms)) console.log(`  ${name}: ${c.count} (${fmt(c.ms)} ms)`);
gpu.destroy();
process.exit(0);
