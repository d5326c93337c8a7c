/**
 * `npm run bench`: kernel throughput, attention, training steps and encoding on the WebGPU
 * engine, each beside the same measurement from PyTorch on the CPU in the same run, and
 * bench/RESULTS.md written from the figures. SIMBERT_BENCH_QUICK=1 runs fewer cases (no file).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { initNodeEngine } from '../src/node/gpu.js';
import { benchAttention, type AttentionResult } from './attention.js';
import { BASELINE_INSTALL, runTorchBaseline, type TorchRequest } from './baseline.js';
import { measureColdStart, type ColdStartResult } from './cold-start.js';
import { benchFmaCeiling } from './fma.js';
import { benchGenerate, generateReport } from './generate.js';
import { benchMatmul, MATMUL_SHAPES } from './matmul.js';
import { benchPairedTrain, type PairedResult } from './paired.js';
import { browserEncodeSection } from './browser.js';
import { BASE, benchEncode, benchStep, SEED, SMALL, type EncodeResult, type StepResult } from './step.js';
import { benchEncodePath, benchTrain, encodeFlops, TRAIN_128, TRAIN_32, type EncodePathResult, type TrainResult } from './train.js';
import { matmulVariant, runnableMatmulVariants, type MatmulVariant } from '../src/kernels/matmul.js';
import { attentionVariant } from '../src/kernels/attention.js';
import { fixedSubgroupSize } from '../src/kernels/common.js';

const quick = process.env.SIMBERT_BENCH_QUICK === '1';
const fmt = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '-');
const started = performance.now();
const gpu = await initNodeEngine();
const lines: string[] = [];
const say = (line = '') => {
  console.log(line);
  lines.push(line);
};

const STEPS = quick
  ? [{ config: SMALL, rows: 16, tokens: 32, samples: 3 }]
  : [
    { config: SMALL, rows: 16, tokens: 32, samples: 7 },
    { config: SMALL, rows: 16, tokens: 128, samples: 5 },
    { config: SEED, rows: 16, tokens: 32, samples: 3 },
    { config: SEED, rows: 16, tokens: 128, samples: 3 },
    // The 12-layer stretch goal within the default 4 GiB cap, when SIMBERT_BENCH_BASE=1.
    ...(process.env.SIMBERT_BENCH_BASE === '1' ? [{ config: BASE, rows: 16, tokens: 128, samples: 1 }] : []),
  ];
const ENCODE = quick ? [{ config: SMALL, rows: 64, tokens: 32, samples: 3 }] : [
  { config: SMALL, rows: 64, tokens: 32, samples: 5 },
  { config: SEED, rows: 64, tokens: 32, samples: 3 },
];
// `train` itself on generated text, compared with PyTorch's step at the batch's full length.
const TRAINS = quick ? [{ config: SMALL, shape: TRAIN_32, steps: 4 }] : [
  { config: SMALL, shape: TRAIN_32, steps: 12 },
  { config: SEED, shape: TRAIN_32, steps: 8 },
  { config: SEED, shape: TRAIN_128, steps: 4 },
];
// The 16 x 32 targets again, `train` and PyTorch in turn (bench/paired.ts): their ratios for the targets.
const PAIRED = quick ? [] : [{ config: SEED, shape: TRAIN_32, steps: 8 }, { config: SMALL, shape: TRAIN_32, steps: 12 }];
const PAIRED_ROUNDS = 3;
const ENCODE_PATH = quick ? [{ config: SMALL, texts: 64, tokens: 32, samples: 3 }] : [{ config: SEED, texts: 64, tokens: 32, samples: 3 }];
const request: TorchRequest = { matmul: MATMUL_SHAPES, steps: STEPS, encode: ENCODE };

const defaultMatmul = matmulVariant(gpu);
const defaultAttention = attentionVariant(gpu);
const cpu = cpus();
say('# Benchmark results');
say();
say(`- date: ${new Date().toISOString()}`);
say(`- machine: ${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, Node ${process.version}`);
say(`- load average (1 min) at the start: ${fmt(loadavg()[0], 2)} on ${cpus().length} CPUs (other processes slow every figure, ours and PyTorch's alike)`);
say(`- adapter: ${gpu.adapterKind} (${gpu.adapterDescription}), subgroups: ${gpu.hasSubgroups ? `${fixedSubgroupSize(gpu) || 'varying'} lanes` : 'no'}, LP_NATIVE_VECTOR_WIDTH=${process.env.LP_NATIVE_VECTOR_WIDTH ?? '(lavapipe default)'}`);
say(`- kernel versions chosen for this adapter: matmul '${defaultMatmul}', attention '${defaultAttention}'`);
say('- every figure is a median; the PyTorch figures come from the same run (bench/torch-baseline.py, CPU, 2 threads, float32); every ratio is our speed over PyTorch\'s (below 1: slower)');
const baseline = runTorchBaseline(request);
if ('skipped' in baseline) say(`- pytorch: skipped: ${baseline.skipped} (install: ${BASELINE_INSTALL})`);
else say(`- pytorch: ${baseline.torch}, ${baseline.threads} threads, BLAS ${baseline.blas}, OpenBLAS kernels: ${baseline.openblasCore} (OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset for the baseline, so OpenBLAS chooses its own for this CPU)`);
const torch = 'skipped' in baseline ? null : baseline;

const ratio = (ours: number, theirs: number | undefined) => (theirs ? `${fmt(ours / theirs, 2)}` : 'skipped');

say();
say('## matmul (float32, GFLOP/s)');
say();
// Every version this adapter runs except the workgroup-tiled one where it is not the default (~9 GFLOP/s on lavapipe).
const variants: MatmulVariant[] = quick ? [defaultMatmul] : runnableMatmulVariants(gpu).filter((v) => v !== 'tiled' || v === defaultMatmul);
say(`Versions: ${variants.join(', ')} (see the header of src/kernels/matmul.ts). transA: A stored [K, M]; transB: B stored [N, K].`);
say();
say(`| M x K x N | op | ${variants.map((v) => `${v} ms | ${v} GFLOP/s`).join(' | ')} | pytorch GFLOP/s | ratio (${defaultMatmul} / pytorch) |`);
say(`|---|---|${variants.map(() => '---:|---:').join('|')}|---:|---:|`);
const matmulResults = await benchMatmul(variants);
for (const [m, k, n] of MATMUL_SHAPES) {
  for (const [transA, transB] of [[false, false], [true, false], [false, true]]) {
    const row = matmulResults.filter((r) => r.m === m && r.k === k && r.n === n && r.transA === transA && r.transB === transB);
    const ours = row.find((r) => r.variant === defaultMatmul);
    const theirs = torch?.matmul.find((b) => b.m === m && b.k === k && b.n === n)?.gflops;
    const op = transA ? 'transA' : transB ? 'transB' : 'plain';
    say(`| ${m} x ${k} x ${n} | ${op} | ${variants.map((v) => { const r = row.find((x) => x.variant === v); return `${fmt(r?.medianMs ?? NaN)} | ${fmt(r?.gflops ?? NaN)}`; }).join(' | ')} | ${theirs ? fmt(theirs) : 'skipped'} | ${ratio(ours?.gflops ?? NaN, theirs)} |`);
  }
}

say();
say('## fused attention (batch 16, 128 tokens, 12 heads of 64, dropout 0.1)');
say();
say('| version | forward ms | forward GFLOP/s | backward ms | backward GFLOP/s |');
say('|---|---:|---:|---:|---:|');
const attentionVersions = quick ? [defaultAttention] : [...new Set(['rows' as const, defaultAttention])];
const attentionResults: AttentionResult[] = [];
for (const variant of attentionVersions) {
  const r = await benchAttention(variant, 16, quick ? 32 : 128, 12, 64, 3);
  attentionResults.push(r);
  say(`| ${variant} | ${fmt(r.forwardMs)} | ${fmt(r.forwardGflops, 2)} | ${fmt(r.backwardMs)} | ${fmt(r.backwardGflops, 2)} |`);
}

say();
say('## training step (forward, seq2seq + similarity loss, backward, AdamW; dropout 0.1)');
say();
say(`Configs: small = 2 layers, hidden 128, 2 heads, intermediate 512; seed = 3 layers, hidden 768, 12 heads, intermediate 3072; both vocabulary ${SEED.vocab}.`);
say('Rows are pairs [CLS] a [SEP] b [SEP] filling the row. CPU ms: the Node main thread per step. Peak: pool bytes in use during the timed steps.');
say();
say('| config | rows x tokens | ms / step | pytorch ms / step | speed ratio (pytorch ms / ours) | main-thread CPU ms / step | dispatches / step | submissions / step | distinct pipelines / step | peak GPU bytes | samples |');
say('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
const stepResults: StepResult[] = [];
for (const s of STEPS) {
  const r = await benchStep(s.config, s.rows, s.tokens, s.samples);
  stepResults.push(r);
  const theirs = torch?.steps.find((b) => b.config === s.config.name && b.rows === s.rows && b.tokens === s.tokens)?.medianMs;
  say(`| ${r.config} | ${r.rows} x ${r.tokens} | ${fmt(r.medianMs)} | ${theirs ? fmt(theirs) : 'skipped'} | ${theirs ? fmt(theirs / r.medianMs, 2) : 'skipped'} | ${fmt(r.cpuMsPerStep, 0)} | ${r.dispatches} | ${r.submissions} | ${r.pipelines} | ${(r.peakBytes / 1024 ** 2).toFixed(0)} MiB | ${r.samples} |`);
}

say();
say('## encoding (single texts, no grad, pooled vectors read back)');
say();
say('| config | rows x tokens | ms | sentences / s | pytorch sentences / s | ratio (ours / pytorch) |');
say('|---|---|---:|---:|---:|---:|');
const encodeResults: EncodeResult[] = [];
for (const e of ENCODE) {
  const r = await benchEncode(e.config, e.rows, e.tokens, e.samples);
  encodeResults.push(r);
  const theirs = torch?.encode.find((b) => b.config === e.config.name && b.rows === e.rows && b.tokens === e.tokens)?.sentencesPerSecond;
  say(`| ${r.config} | ${r.rows} x ${r.tokens} | ${fmt(r.medianMs)} | ${fmt(r.sentencesPerSecond)} | ${theirs ? fmt(theirs) : 'skipped'} | ${ratio(r.sentencesPerSecond, theirs)} |`);
}

say();
say('## encoding in a browser (headless Chromium, bench/browser.ts), beside Node on this adapter');
say();
say(await browserEncodeSection(quick ? SMALL : SEED, 64, 32, encodeResults));

say();
say('## training through `train` (src/train/trainer.ts on generated text, no test set, no checkpoints)');
say();
say('Each step as metrics.jsonl reports it: tokenization, padding to the batch\'s longest row, recording, the GPU\'s work and the loss readback.');
say('Texts are random characters of the vocabulary; a row is [CLS] a [SEP] b [SEP] cut to maxlen. PyTorch: its step at the full maxlen (above).');
say();
say('| config | rows x maxlen | mean tokens / row | steps | mean ms / step | first step ms | mean ms / step after the first | bench step ms | pytorch ms / step | speed ratio (pytorch / ours, mean) | pipelines compiled |');
say('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
const trainResults: TrainResult[] = [];
for (const t of TRAINS) {
  const r = await benchTrain(t.config, t.shape, t.steps);
  trainResults.push(r);
  const bench = stepResults.find((b) => b.config === r.config && b.rows === r.rows && b.tokens === r.maxlen)?.medianMs;
  const theirs = torch?.steps.find((b) => b.config === r.config && b.rows === r.rows && b.tokens === r.maxlen)?.medianMs;
  say(`| ${r.config} | ${r.rows} x ${r.maxlen} | ${fmt(r.tokensPerRow)} | ${r.steps} | ${fmt(r.meanMs)} | ${fmt(r.firstMs)} | ${fmt(r.meanAfterFirstMs)} | ${bench ? fmt(bench) : '-'} | ${theirs ? fmt(theirs) : 'skipped'} | ${theirs ? fmt(theirs / r.meanMs, 2) : 'skipped'} | ${r.pipelines} |`);
}

const pairedResults: PairedResult[] = [];
if (PAIRED.length > 0 && torch) {
  say();
  say(`## \`train\` and PyTorch in turn (${PAIRED_ROUNDS} rounds; the targets' ratios)`);
  say();
  say('Each round runs `train` as above (a new random model), then PyTorch\'s step in a new process, a minute apart: the ratio of each round compares the same hour of this machine.');
  say();
  say('| config | rows x maxlen | round | ours mean ms / step | pytorch ms / step | speed ratio (pytorch / ours) |');
  say('|---|---|---:|---:|---:|---:|');
  for (const p of PAIRED) {
    const r = await benchPairedTrain(p.config, p.shape, p.steps, PAIRED_ROUNDS);
    if ('skipped' in r) {
      say(`| ${p.config.name} | ${p.shape.batchSize} x ${p.shape.maxlen} | - | - | skipped: ${r.skipped} | - |`);
      continue;
    }
    pairedResults.push(r);
    r.rounds.forEach((round, i) => say(`| ${r.config} | ${r.rows} x ${r.maxlen} | ${i + 1} | ${fmt(round.oursMs)} | ${fmt(round.torchMs)} | ${fmt(round.torchMs / round.oursMs, 2)} |`));
    say(`| ${r.config} | ${r.rows} x ${r.maxlen} | median | ${fmt(r.medianOursMs)} | ${fmt(r.medianTorchMs)} | ${fmt(r.medianSpeedRatio, 2)} |`);
  }
}

say();
say('## encoding through `encode` (encodeTexts: tokenization, batches, pooled vectors read back) and the FMA ceiling');
say();
const fma = await benchFmaCeiling();
say(`FMA ceiling (FMA-only kernels with ${fma.byChains.map((c) => c.chains).join(', ')} independent vec4 chains per invocation, the loop body repeated to ${fma.fmasPerPass} vec4 FMAs per pass, measured now; the fastest): ${fmt(fma.gflops)} GFLOP/s with ${fma.chains} chains (${fma.byChains.map((c) => `${c.chains}: ${fmt(c.gflops)}`).join(', ')}).`);
say('Effective GFLOP/s: the FLOPs of every layer on every token (attention and pooler included) over the time, for us and PyTorch alike.');
say();
say('| config | texts x tokens | ms | sentences / s | effective GFLOP/s | % of FMA ceiling | pytorch sentences / s | pytorch effective GFLOP/s | ratio (ours / pytorch) |');
say('|---|---|---:|---:|---:|---:|---:|---:|---:|');
const encodePathResults: EncodePathResult[] = [];
for (const e of ENCODE_PATH) {
  const r = await benchEncodePath(e.config, e.texts, e.tokens, e.samples);
  encodePathResults.push(r);
  const theirs = torch?.encode.find((b) => b.config === e.config.name && b.rows === e.texts && b.tokens === e.tokens);
  const theirGflops = theirs ? encodeFlops(e.config, e.texts, e.tokens) / theirs.medianMs / 1e6 : undefined;
  say(`| ${r.config} | ${r.texts} x ${r.tokens} | ${fmt(r.medianMs)} | ${fmt(r.sentencesPerSecond)} | ${fmt(r.gflops)} | ${fmt((100 * r.gflops) / fma.gflops, 0)} % | ${theirs ? fmt(theirs.sentencesPerSecond) : 'skipped'} | ${theirGflops ? fmt(theirGflops) : 'skipped'} | ${ratio(r.sentencesPerSecond, theirs?.sentencesPerSecond)} |`);
}

let coldStart: ColdStartResult | null = null;
if (!quick) {
  say();
  say('## cold start (the demo, `train` without a model: two fresh processes sharing a new, empty XDG_CACHE_HOME)');
  say();
  coldStart = measureColdStart();
  say('| run | seconds |');
  say('|---|---:|');
  say(`| empty shader cache | ${fmt(coldStart.coldMs / 1000)} |`);
  say(`| warm (the cache the first run filled) | ${fmt(coldStart.warmMs / 1000)} |`);
  say();
  say(`Distinct pipelines the demo compiles: ${coldStart.pipelines}; a seed training step dispatches: ${stepResults.find((r) => r.config === SEED.name)?.pipelines ?? '-'}.`);
}

if (!quick) {
  say();
  const { ours, torch } = await benchGenerate();
  for (const line of generateReport(ours, torch, SEED)) say(line);
}

if (!quick) {
  const step = (config: string, tokens: number) => stepResults.find((r) => r.config === config && r.rows === 16 && r.tokens === tokens);
  const torchStep = (config: string, tokens: number) => torch?.steps.find((b) => b.config === config && b.rows === 16 && b.tokens === tokens)?.medianMs;
  const seed32 = step(SEED.name, 32);
  const base = step(BASE.name, 128);
  const torchEncode = torch?.encode.find((b) => b.config === SEED.name)?.sentencesPerSecond;
  const cap = gpu.pool.capBytes;
  const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(0)} MiB`;
  const yes = (met: boolean) => (met ? 'yes' : 'no');
  say();
  say('## targets of issue #13 (software adapter)');
  say();
  say('| target | measured | pytorch | ratio (ours / pytorch speed) | met |');
  say('|---|---:|---:|---:|---|');
  if (torch) say(`| PyTorch with OpenBLAS's own kernels (no OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE) | ${torch.openblasCore} | | | ${yes(!/ set\)/.test(torch.openblasCore))} |`);
  const trainTarget = (config: string, maxlen: number, wanted: number) => {
    const paired = pairedResults.find((t) => t.config === config && t.maxlen === maxlen);
    if (paired) {
      say(`| \`train\` ${config} 16 x ${maxlen}, mean s / step >= ${wanted}x PyTorch's speed (median of ${paired.rounds.length} rounds in turn) | ${fmt(paired.medianOursMs / 1000, 2)} s | ${fmt(paired.medianTorchMs / 1000, 2)} s | ${fmt(paired.medianSpeedRatio, 2)} | ${yes(paired.medianSpeedRatio >= wanted)} |`);
      return;
    }
    const r = trainResults.find((t) => t.config === config && t.maxlen === maxlen);
    const theirs = torchStep(config, maxlen);
    if (!r) return;
    const speed = theirs ? theirs / r.meanMs : NaN;
    say(`| \`train\` ${config} 16 x ${maxlen}, mean s / step >= ${wanted}x PyTorch's speed | ${fmt(r.meanMs / 1000, 2)} s | ${theirs ? `${fmt(theirs / 1000, 2)} s` : 'skipped'} | ${theirs ? fmt(speed, 2) : 'skipped'} | ${theirs ? yes(speed >= wanted) : '-'} |`);
  };
  trainTarget(SEED.name, 32, 1.25);
  trainTarget(SEED.name, 128, 1.0);
  trainTarget(SMALL.name, 32, 1.5);
  const encodePath = encodePathResults.find((r) => r.config === SEED.name);
  if (encodePath) {
    const share = encodePath.gflops / fma.gflops;
    say(`| \`encode\` seed 64 x 32 >= 90 % of the FMA ceiling (${fmt(fma.gflops)} GFLOP/s) | ${fmt(encodePath.gflops)} GFLOP/s (${fmt(100 * share, 0)} %), ${fmt(encodePath.sentencesPerSecond)} sentences/s | ${torchEncode ? `${fmt(torchEncode)} sentences/s` : 'skipped'} | ${ratio(encodePath.sentencesPerSecond, torchEncode)} | ${yes(share >= 0.9)} |`);
  }
  say(base
    ? `| 12-layer BERT-base step 16 x 128 within ${mib(cap)}, >= 0.8x PyTorch's speed | ${mib(base.peakBytes)}, ${fmt(base.medianMs, 0)} ms | ${torchStep(BASE.name, 128) ? `${fmt(torchStep(BASE.name, 128)!, 0)} ms` : 'skipped'} | ${torchStep(BASE.name, 128) ? fmt(torchStep(BASE.name, 128)! / base.medianMs, 2) : 'skipped'} | ${yes(base.peakBytes <= cap && (torchStep(BASE.name, 128) ?? Infinity) / base.medianMs >= 0.8)} |`
    : '| 12-layer BERT-base step 16 x 128, >= 0.8x PyTorch | not run (SIMBERT_BENCH_BASE=1) | | | |');
  say('| each step\'s `seconds` in metrics.jsonl is its own wall time | test/train/step-seconds.test.ts | | | test |');
  if (coldStart) {
    const cold = coldStart.coldMs / 1000;
    const warm = coldStart.warmMs / 1000;
    say(`| cold start: demo with an empty shader cache <= 45 s and <= warm + 10 s (pipelines: demo ${coldStart.pipelines}, seed step ${seed32?.pipelines ?? '-'}) | ${fmt(cold)} s (warm ${fmt(warm)} s) | | | ${yes(cold <= 45 && cold - warm <= 10)} |`);
  }
}

say();
say(`Total bench time: ${fmt((performance.now() - started) / 1000, 0)} s; load average (1 min) at the end: ${fmt(loadavg()[0], 2)}.`);
// The GPU bench runs only on a lent machine; its last results travel with every rewrite.
const gpuResults = fileURLToPath(new URL('../../bench/gpu/RESULTS.md', import.meta.url));
if (existsSync(gpuResults)) {
  say();
  say(readFileSync(gpuResults, 'utf8').trim().replace(/^# /, '## '));
}
if (!quick) {
  const path = fileURLToPath(new URL('../../bench/RESULTS.md', import.meta.url));
  writeFileSync(path, `${lines.join('\n')}\n`);
  console.log(`\nwrote ${path}`);
}
gpu.destroy();
process.exit(0);
