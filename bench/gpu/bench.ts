/**
 * The bench on a hardware adapter (Dawn on Vulkan, e.g. an NVIDIA GPU lent by the `device` tool):
 * matmuls, the seed training step, `train` and `encode` of the seed configuration, beside PyTorch
 * on the same GPU in float32 with TF32 off when `python3` there has CUDA. Run by run-on-device.sh;
 * nothing depends on it.
 *
 *   SIMBERT_ADAPTER=hardware node build/bench/gpu/bench.js [RESULTS.md]
 */
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { matmulVariant } from '../../src/kernels/matmul.js';
import { attentionVariant } from '../../src/kernels/attention.js';
import { initNodeEngine } from '../../src/node/gpu.js';
import { runTorchBaseline, type TorchRequest } from '../baseline.js';
import { benchMatmul, MATMUL_SHAPES } from '../matmul.js';
import { benchStep, SEED } from '../step.js';
import { benchEncodePath, benchTrain, encodeFlops, TRAIN_128, TRAIN_32 } from '../train.js';
import { setWarmGpuMs } from '../warm-gpu.js';

const fmt = (value: number | undefined, digits = 1) => (value !== undefined && Number.isFinite(value) ? value.toFixed(digits) : '-');
const lines: string[] = [];
const say = (line = '') => {
  console.log(line);
  lines.push(line);
};

const gpu = await initNodeEngine();
setWarmGpuMs(1500);
const STEPS = [{ config: SEED, rows: 16, tokens: 32, samples: 10 }, { config: SEED, rows: 16, tokens: 128, samples: 10 }];
const ENCODE = [{ config: SEED, rows: 64, tokens: 32, samples: 10 }];
const request: TorchRequest = { device: 'cuda', matmul: MATMUL_SHAPES, steps: STEPS, encode: ENCODE };
const baseline = runTorchBaseline(request, 'python3');
const torch = 'skipped' in baseline ? null : baseline;

say('# GPU bench (hardware adapter)');
say();
say(`- date: ${new Date().toISOString()}; host: ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`);
say(`- adapter: ${gpu.adapterKind} (${gpu.adapterDescription}), subgroups: ${gpu.hasSubgroups ? 'yes' : 'no'}; kernels: matmul '${matmulVariant(gpu)}', attention '${attentionVariant(gpu)}'`);
say(`- pytorch: ${torch ? `${torch.torch} on ${torch.device}, float32, TF32 off` : `skipped: ${(baseline as { skipped: string }).skipped}`}`);
say();
say('| matmul M x K x N | op | ours GFLOP/s | pytorch GFLOP/s | ratio |');
say('|---|---|---:|---:|---:|');
for (const r of await benchMatmul([matmulVariant(gpu)])) {
  const theirs = torch?.matmul.find((b) => b.m === r.m && b.k === r.k && b.n === r.n)?.gflops;
  say(`| ${r.m} x ${r.k} x ${r.n} | ${r.transA ? 'transA' : r.transB ? 'transB' : 'plain'} | ${fmt(r.gflops)} | ${fmt(theirs)} | ${theirs ? fmt(r.gflops / theirs, 2) : '-'} |`);
}
say();
say('| seed step | ms (median) | pytorch ms | speed ratio (pytorch / ours) | main-thread CPU ms | dispatches | distinct pipelines |');
say('|---|---:|---:|---:|---:|---:|---:|');
for (const s of STEPS) {
  const r = await benchStep(s.config, s.rows, s.tokens, s.samples);
  const theirs = torch?.steps.find((b) => b.rows === s.rows && b.tokens === s.tokens)?.medianMs;
  say(`| ${s.rows} x ${s.tokens} | ${fmt(r.medianMs)} | ${fmt(theirs)} | ${theirs ? fmt(theirs / r.medianMs, 2) : '-'} | ${fmt(r.cpuMsPerStep, 0)} | ${r.dispatches} | ${r.pipelines} |`);
}
say();
say('| `train` seed | mean ms / step | after the first | pytorch ms / step | speed ratio (pytorch / ours, mean) |');
say('|---|---:|---:|---:|---:|');
for (const shape of [TRAIN_32, TRAIN_128]) {
  const r = await benchTrain(SEED, shape, 12);
  const theirs = torch?.steps.find((b) => b.rows === r.rows && b.tokens === r.maxlen)?.medianMs;
  say(`| 16 x ${r.maxlen} | ${fmt(r.meanMs)} | ${fmt(r.meanAfterFirstMs)} | ${fmt(theirs)} | ${theirs ? fmt(theirs / r.meanMs, 2) : '-'} |`);
}
say();
const e = ENCODE[0];
const encode = await benchEncodePath(e.config, e.rows, e.tokens, e.samples);
const theirs = torch?.encode[0];
say(`\`encode\` seed 64 x 32: ${fmt(encode.sentencesPerSecond)} sentences/s, ${fmt(encode.gflops)} effective GFLOP/s; pytorch ${theirs ? `${fmt(theirs.sentencesPerSecond)} sentences/s, ${fmt(encodeFlops(e.config, e.rows, e.tokens) / theirs.medianMs / 1e6)} GFLOP/s` : 'skipped'}.`);
if (process.argv[2]) writeFileSync(process.argv[2], `${lines.join('\n')}\n`);
gpu.destroy();
process.exit(0);
