/**
 * The GPU time of one sampleTokens dispatch (timestamp queries) for gen_synonyms-shaped decoding
 * rows over the seed vocabulary: top-k 5, greedy, top-p 0.9 alone, top-k 5 with top-p 0.9.
 *
 *   node build/bench/sampling.js [rows...] [--repeats N]
 *
 * Logits are a seeded standard normal scaled by 3 (a spread like the MLM head's), so top-p 0.9
 * keeps a few hundred tokens rather than one.
 */
import { loadavg } from 'node:os';
import { mulberry32 } from '../src/autograd/gradcheck.js';
import { sampleTokens, type SamplingParams } from '../src/kernels/sampling.js';
import { initNodeEngine } from '../src/node/gpu.js';
import { median } from './stats.js';

const VOCAB = 13584;
const args = process.argv.slice(2);
const repeatsAt = args.indexOf('--repeats');
const repeats = repeatsAt >= 0 ? Number(args[repeatsAt + 1]) : 7;
const rowCounts = args.filter((_, i) => i !== repeatsAt && i !== repeatsAt + 1).map(Number);
const CASES: [string, Partial<SamplingParams>][] = [
  ['top-k 5', { topk: 5 }],
  ['greedy', { greedy: true }],
  ['top-p 0.9', { topp: 0.9 }],
  ['top-k 5, top-p 0.9', { topk: 5, topp: 0.9 }],
];

function normalLogits(size: number, seed: number): Float32Array {
  const next = mulberry32(seed);
  return Float32Array.from({ length: size }, () => 3 * Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()));
}

const gpu = await initNodeEngine({ profileKernels: true });
const profiler = gpu.profiler!;
console.log(`adapter: ${gpu.adapterKind} (${gpu.adapterDescription}); load average (1 min) ${loadavg()[0].toFixed(2)}`);
console.log('| rows | case | GPU ms (median) | min | max |');
console.log('|---:|---|---:|---:|---:|');
for (const rows of rowCounts.length ? rowCounts : [100, 400]) {
  const logits = gpu.upload(normalLogits(rows * VOCAB, rows), 'logits');
  const streams = gpu.upload(Uint32Array.from({ length: rows }, (_, r) => r), 'streams');
  const chosen = gpu.allocate(rows * 4, 'chosen');
  for (const [name, params] of CASES) {
    const times: number[] = [];
    for (let i = -1; i < repeats; i++) {
      await profiler.reset();
      sampleTokens(gpu, { logits, streams, chosen }, rows, VOCAB, { greedy: false, topk: 0, topp: 1, temperature: 1, seed: 1, step: i + 1, ...params });
      await gpu.sync();
      const ms = (await profiler.report()).reduce((sum, k) => sum + k.milliseconds, 0);
      if (i >= 0) times.push(ms);
    }
    console.log(`| ${rows} | ${name} | ${median(times).toFixed(2)} | ${Math.min(...times).toFixed(2)} | ${Math.max(...times).toFixed(2)} |`);
  }
  for (const buffer of [logits, streams, chosen]) gpu.release(buffer);
}
gpu.destroy();
process.exit(0);
