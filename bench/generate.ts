/**
 * gen_synonyms-shaped generation (n rows per input sampled at top-k, maxlen tokens, rerank to k)
 * on the engine, beside PyTorch on the CPU in the same run (bench/torch-generate.py): the
 * bert4keras way (the whole sequence recomputed every step) and with a key/value cache.
 * Random weights: rows rarely draw [SEP], so nearly every row runs all maxlen steps, on both sides.
 * `node build/bench/generate.js [INPUTS...]` runs this part alone (default: 1 and 16 inputs).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { activeGpu } from '../src/autograd/engine.js';
import { generateParaphrases, type GenerateOptions } from '../src/generate/generate.js';
import { cacheBytesPerToken } from '../src/generate/kv-decoder.js';
import type { SimBert } from '../src/model/bert.js';
import { convertForInference } from '../src/model/inference.js';
import { Tokenizer } from '../src/model/tokenizer.js';
import { buildVocab } from '../src/model/vocab.js';
import { encodeTexts } from '../src/train/encode.js';
import { initNodeEngine } from '../src/node/gpu.js';
import { BASELINE_INSTALL, baselineEnvironment } from './baseline.js';
import { bertConfig, randomModel, SEED, type ModelConfigSpec } from './step.js';

export const GENERATE_WORK = { n: 100, topk: 5, maxlen: 32, k: 20, sourceTokens: 22 };
export const GENERATE_INPUTS = [1, 16];

export interface GenerateBenchResult {
  inputs: number;
  seconds: number;
  secondsPerInput: number;
  tokens: number;
  tokensPerSecond: number;
  peakBytes: number;
}

export interface TorchGenerate {
  torch: string;
  threads: number;
  recompute: { inputs: number; seconds: number; tokens: number }[];
  cached: { inputs: number; seconds: number; tokens: number }[];
}

/** The generation bench's vocabulary: the four special tokens, then CJK characters up to the config's size. */
export function benchTokenizer(spec: ModelConfigSpec): { characters: string[]; tokenizer: Tokenizer } {
  const characters = Array.from({ length: spec.vocab - 4 }, (_, i) => String.fromCodePoint(0x4e00 + i));
  return { characters, tokenizer: new Tokenizer(buildVocab(['[PAD]', '[UNK]', '[CLS]', '[SEP]', ...characters]).vocab) };
}

/** `count` texts of sourceTokens - 2 random CJK characters, all in the vocabulary. */
export function benchTexts(count: number, characters: string[]): string[] {
  let state = 99;
  const next = () => (state = (state * 1103515245 + 12345) >>> 0);
  return Array.from({ length: count }, () => Array.from({ length: GENERATE_WORK.sourceTokens - 2 }, () => characters[next() % characters.length]).join(''));
}

/**
 * Samples per input count, ours and PyTorch's cached way alternating (the machine's speed drifts
 * over minutes, so each side's samples are taken at the same times): three at 1 input, where a
 * sample takes ~15 s, one at 16 inputs (~4 minutes a side).
 */
export const GENERATE_SAMPLES: Record<number, number> = { 1: 3, 16: 1 };

function samplesAt(inputs: number): number {
  return GENERATE_SAMPLES[inputs] ?? 1;
}

/** Seconds and generated tokens per second of gen_synonyms for one input count. */
type GenerateOnce = (inputs: number) => Promise<GenerateBenchResult>;

/** Our gen_synonyms on the seed-shaped model, pipelines compiled; `release` frees the model. */
async function generateRunner(spec: ModelConfigSpec): Promise<{ once: GenerateOnce; release: () => void }> {
  const gpu = activeGpu();
  const random = randomModel(spec);
  // As `simbert generate` loads it: dense kernels in the inference layout (src/model/inference.ts).
  const model = convertForInference(random.model);
  const { characters, tokenizer } = benchTokenizer(spec);
  const options: GenerateOptions = {
    mode: 'sample', n: GENERATE_WORK.n, k: GENERATE_WORK.k, topk: GENERATE_WORK.topk, topp: 1, temperature: 1, maxlen: GENERATE_WORK.maxlen,
    minLen: 0, seed: 1, beam: 1, lengthPenalty: 0, noRepeatNgram: 0,
  };
  const encode = (view: SimBert, texts: string[]) => encodeTexts(view, tokenizer, texts, { maxlen: view.config.maxPositionEmbeddings });
  // Warm-up: compiles every pipeline.
  await generateParaphrases(model, tokenizer, benchTexts(1, characters), { ...options, n: 4, k: 2, maxlen: 3 }, encode);
  const once = async (inputs: number): Promise<GenerateBenchResult> => {
    gpu.pool.resetPeaks();
    const texts = benchTexts(inputs, characters);
    const started = performance.now();
    const out = await generateParaphrases(model, tokenizer, texts, options, encode);
    const seconds = (performance.now() - started) / 1000;
    const tokens = out.reduce((sum, r) => sum + r.generatedTokens, 0);
    return { inputs, seconds, secondsPerInput: seconds / inputs, tokens, tokensPerSecond: tokens / seconds, peakBytes: gpu.pool.snapshot().peakBytesInUse };
  };
  return { once, release: () => random.release() };
}

/** The sample of median seconds. */
function medianRun<T extends { seconds: number }>(runs: T[]): T {
  return [...runs].sort((a, b) => a.seconds - b.seconds)[Math.floor(runs.length / 2)];
}

/**
 * Ours beside PyTorch for each input count: GENERATE_SAMPLES samples of each side, alternating,
 * medians reported; then PyTorch's recompute way once on 1 input (minutes).
 */
export async function benchGenerate(spec: ModelConfigSpec = SEED, inputCounts = GENERATE_INPUTS): Promise<{ ours: GenerateBenchResult[]; torch: TorchGenerate | { skipped: string } }> {
  const runner = await generateRunner(spec);
  const ours: GenerateBenchResult[] = [];
  const cached: TorchGenerate['cached'] = [];
  let skipped: string | undefined;
  let torchVersion = { torch: '', threads: 0 };
  try {
    for (const inputs of inputCounts) {
      const mine: GenerateBenchResult[] = [];
      const theirs: TorchGenerate['cached'] = [];
      for (let sample = 0; sample < samplesAt(inputs); sample++) {
        mine.push(await runner.once(inputs));
        if (skipped) continue;
        const torch = runTorchGenerate(spec, { recompute: [], cached: [inputs] });
        if ('skipped' in torch) skipped = torch.skipped;
        else {
          theirs.push(torch.cached[0]);
          torchVersion = { torch: torch.torch, threads: torch.threads };
        }
      }
      ours.push(medianRun(mine));
      if (theirs.length > 0) cached.push(medianRun(theirs));
    }
  } finally {
    runner.release();
  }
  if (skipped) return { ours, torch: { skipped } };
  const recompute = runTorchGenerate(spec, { recompute: [1], cached: [] });
  if ('skipped' in recompute) return { ours, torch: recompute };
  return { ours, torch: { ...torchVersion, recompute: recompute.recompute, cached } };
}

/**
 * Runs bench/torch-generate.py (the recompute way decodes inputs one after another, so its seconds
 * per input do not depend on how many there are), or says why it was skipped.
 */
export function runTorchGenerate(spec: ModelConfigSpec, counts: { recompute: number[]; cached: number[] }): TorchGenerate | { skipped: string } {
  const python = '/usr/bin/python3';
  if (!existsSync(python)) return { skipped: `${python} not found (install: ${BASELINE_INSTALL})` };
  const script = fileURLToPath(new URL('../../bench/torch-generate.py', import.meta.url));
  const request = {
    config: spec, n: GENERATE_WORK.n, topk: GENERATE_WORK.topk, maxlen: GENERATE_WORK.maxlen, k: GENERATE_WORK.k, source_tokens: GENERATE_WORK.sourceTokens,
    ...counts,
  };
  const result = spawnSync(python, [script, JSON.stringify(request)], { encoding: 'utf8', timeout: 3_600_000, env: baselineEnvironment() });
  if (result.status !== 0) return { skipped: result.stderr.trim().split('\n').pop() ?? 'the baseline script failed' };
  return JSON.parse(result.stdout) as TorchGenerate;
}

function inputCountsText(): string {
  return GENERATE_INPUTS.map((inputs) => `${samplesAt(inputs)} sample${samplesAt(inputs) > 1 ? 's' : ''} a side at ${inputs} input${inputs > 1 ? 's' : ''}`).join(', ');
}

/** The markdown lines of the generation section. */
export function generateReport(ours: GenerateBenchResult[], torch: TorchGenerate | { skipped: string }, spec: ModelConfigSpec): string[] {
  const fmt = (value: number, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : '-');
  const lines = [
    `## generation (gen_synonyms: n ${GENERATE_WORK.n}, top-k ${GENERATE_WORK.topk}, maxlen ${GENERATE_WORK.maxlen}, k ${GENERATE_WORK.k}; ${spec.name} config, sources of ${GENERATE_WORK.sourceTokens} tokens)`,
    '',
    `Wall time of decoding and reranking; tokens: generated tokens (rows x steps). Key/value cache: ${cacheBytesPerToken(bertConfig(spec))} bytes per row and token.`,
    'PyTorch (a): the bert4keras way, the whole sequence recomputed every step, inputs one after another (its seconds per input are measured on 1 input);',
    'PyTorch (b): with a key/value cache, all inputs in one batch. Ratios: our speed over theirs.',
    `Ours and PyTorch (b) alternate, ${inputCountsText()}; each figure is the median sample.`,
    '',
    '| inputs | seconds / input | tokens / s | pytorch (a) s / input | pytorch (b) s / input | pytorch (b) tokens / s | vs (a) | vs (b) | peak GPU bytes |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  if ('skipped' in torch) lines.splice(2, 0, `pytorch: skipped: ${torch.skipped}`, '');
  const recompute = 'skipped' in torch ? undefined : torch.recompute[0];
  for (const r of ours) {
    const cached = 'skipped' in torch ? undefined : torch.cached.find((c) => c.inputs === r.inputs);
    const a = recompute ? recompute.seconds / recompute.inputs : NaN;
    const b = cached ? cached.seconds / cached.inputs : NaN;
    lines.push(`| ${r.inputs} | ${fmt(r.secondsPerInput)} | ${fmt(r.tokensPerSecond, 0)} | ${fmt(a)} | ${fmt(b)} | ${cached ? fmt(cached.tokens / cached.seconds, 0) : '-'} | ${fmt(a / r.secondsPerInput)} | ${fmt(b / r.secondsPerInput)} | ${(r.peakBytes / 1024 ** 2).toFixed(0)} MiB |`);
  }
  return lines;
}

if (realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const gpu = await initNodeEngine();
  const load = loadavg()[0];
  console.log(`adapter: ${gpu.adapterKind} (${gpu.adapterDescription}); load average (1 min) ${load.toFixed(2)} on ${cpus().length} CPUs at the start`);
  const counts = process.argv.length > 2 ? process.argv.slice(2).map(Number) : GENERATE_INPUTS;
  const { ours, torch } = await benchGenerate(SEED, counts);
  for (const r of ours) console.log(`ours, ${r.inputs} inputs: ${r.seconds.toFixed(1)} s, ${r.tokens} tokens`);
  console.log(generateReport(ours, torch, SEED).join('\n'));
  console.log(`load average (1 min) at the end: ${loadavg()[0].toFixed(2)}`);
  gpu.destroy();
  process.exit(0);
}
