/**
 * Where gen_synonyms-shaped generation (bench/generate.ts's work) spends its time: the wall time
 * of decoding and of reranking, then the GPU time of every kernel from timestamp queries (each
 * dispatch in a pass of its own, so the profiled run is a little slower than the bench's).
 *
 *   node build/bench/profile-generate.js [inputs] [n] [maxlen]
 *
 * PROFILE_BY_GRID=1 times each kernel per dispatch grid (problem size) instead of in one line.
 */
import { loadavg } from 'node:os';
import { activeGpu } from '../src/autograd/engine.js';
import { decodeIds } from '../src/generate/detokenize.js';
import { rerank } from '../src/generate/rerank.js';
import { sampleSequences } from '../src/generate/sample-search.js';
import { convertForInference } from '../src/model/inference.js';
import { initNodeEngine } from '../src/node/gpu.js';
import { encodeTexts } from '../src/train/encode.js';
import { benchTexts, benchTokenizer, GENERATE_WORK } from './generate.js';
import { mainThreadCpuMs, randomModel, SEED } from './step.js';

const inputs = Number(process.argv[2] ?? 1);
const n = Number(process.argv[3] ?? GENERATE_WORK.n);
const maxlen = Number(process.argv[4] ?? GENERATE_WORK.maxlen);
const gpu = await initNodeEngine({ profileKernels: true });
const profiler = gpu.profiler!;
profiler.byGrid = process.env.PROFILE_BY_GRID === '1';
console.log(`adapter: ${gpu.adapterKind} (${gpu.adapterDescription}); load average (1 min) ${loadavg()[0].toFixed(2)}`);
const random = randomModel(SEED);
const model = convertForInference(random.model);
const { characters, tokenizer } = benchTokenizer(SEED);
const texts = benchTexts(inputs, characters);
const sources = texts.map((text) => tokenizer.encode(text, undefined, maxlen).ids);
const sampling = { n, greedy: false, topk: GENERATE_WORK.topk, topp: 1, temperature: 1, maxlen, seed: 1, minLen: 0, noRepeatNgram: 0, sepId: tokenizer.sepId, padId: tokenizer.padId };
const encode = (batch: string[]) => encodeTexts(model, tokenizer, batch, { maxlen: model.config.maxPositionEmbeddings });

// Warm-up compiles every pipeline.
const warm = await sampleSequences(model, sources.slice(0, 1), { ...sampling, n: 4, maxlen: 3 });
await encode(warm[0].sequences.map((ids) => decodeIds(ids, tokenizer.vocab.tokens)));
await gpu.sync();
await profiler.reset();

const fmt = (ms: number) => ms.toFixed(1);
const started = performance.now();
const dispatchesBefore = gpu.counters.dispatches;
const cpuBefore = mainThreadCpuMs();
const decoded = await sampleSequences(model, sources, sampling);
const decodeMs = performance.now() - started;
const decodeCpuMs = mainThreadCpuMs() - cpuBefore;
const decodeDispatches = gpu.counters.dispatches - dispatchesBefore;
const decodeKernels = await profiler.report();
await profiler.reset();
const rerankStarted = performance.now();
const rerankCpuBefore = mainThreadCpuMs();
for (let i = 0; i < texts.length; i++) {
  const generated = decoded[i].sequences.map((ids) => ({ text: decodeIds(ids, tokenizer.vocab.tokens), ids }));
  await rerank(texts[i], generated, GENERATE_WORK.k, model.config.hiddenSize, encode);
}
const rerankMs = performance.now() - rerankStarted;
const rerankCpuMs = mainThreadCpuMs() - rerankCpuBefore;
const rerankKernels = await profiler.report();
const tokens = decoded.reduce((sum, d) => sum + d.sequences.reduce((s, ids) => s + Math.min(ids.length + 1, maxlen), 0), 0);

for (const [phase, ms, cpuMs, kernels] of [['decode', decodeMs, decodeCpuMs, decodeKernels], ['rerank', rerankMs, rerankCpuMs, rerankKernels]] as const) {
  const gpuMs = kernels.reduce((sum, k) => sum + k.milliseconds, 0);
  console.log(`\n${phase}: ${fmt(ms)} ms wall, ${fmt(gpuMs)} ms in kernels (${(100 * gpuMs / ms).toFixed(0)} %), main thread CPU ${fmt(cpuMs)} ms` +
    (phase === 'decode' ? `, ${tokens} tokens, ${decodeDispatches} dispatches` : ''));
  console.log('| kernel | dispatches | GPU ms | % of phase |');
  console.log('|---|---:|---:|---:|');
  for (const k of kernels) console.log(`| ${k.name} | ${k.dispatches} | ${fmt(k.milliseconds)} | ${(100 * k.milliseconds / ms).toFixed(1)} |`);
}
random.release();
activeGpu().destroy();
process.exit(0);
