/**
 * Where a training step (bench/step.ts's, 16 rows) spends its GPU time: every kernel's time from
 * timestamp queries, summed over `steps` steps after a warm-up step that compiles every pipeline.
 * Each dispatch runs in a pass of its own, so the profiled step is a little slower than the bench's.
 *
 *   node build/bench/profile-step.js [small|seed|demo] [tokens] [steps]
 *
 * `demo` is the demo's model (hidden 128, 4 heads, its 278-token vocabulary); the demo's batches
 * hold 37-39 tokens a row. PROFILE_BY_GRID=1 times each kernel per dispatch grid (problem size).
 */
import { loadavg } from 'node:os';
import { AdamW } from '../src/autograd/adamw.js';
import { initNodeEngine } from '../src/node/gpu.js';
import { benchBatch, randomModel, SEED, SMALL, trainingStep, type ModelConfigSpec } from './step.js';

const DEMO: ModelConfigSpec = { name: 'demo', layers: 2, hidden: 128, heads: 4, intermediate: 512, vocab: 278 };
const SPECS: Record<string, ModelConfigSpec> = { small: SMALL, seed: SEED, demo: DEMO };

const spec = SPECS[process.argv[2] ?? 'seed'];
if (spec === undefined) {
  console.error(`unknown configuration '${process.argv[2]}': small, seed or demo`);
  process.exit(2);
}
const tokens = Number(process.argv[3] ?? 32);
const steps = Number(process.argv[4] ?? 2);
const gpu = await initNodeEngine({ profileKernels: true });
const profiler = gpu.profiler!;
profiler.byGrid = process.env.PROFILE_BY_GRID === '1';
console.log(`adapter: ${gpu.adapterKind} (${gpu.adapterDescription}); load average (1 min) ${loadavg()[0].toFixed(2)}`);

const { model, weights, release } = randomModel(spec);
const optimizer = new AdamW(weights, { lr: 2e-6, weightDecay: 0.01 });
const batch = benchBatch(16, tokens, spec.vocab);
const step = (seed: number) => trainingStep(model, weights, optimizer, batch, seed).release();

step(1);
await gpu.sync();
await profiler.reset();
const started = performance.now();
for (let i = 0; i < steps; i++) step(2 + i);
await gpu.sync();
const wallMs = (performance.now() - started) / steps;
const kernels = await profiler.report();
const gpuMs = kernels.reduce((sum, k) => sum + k.milliseconds, 0) / steps;

const fmt = (ms: number) => ms.toFixed(1);
console.log(`${spec.name}, 16 x ${tokens}: ${fmt(wallMs)} ms wall per step (profiled), ${fmt(gpuMs)} ms in kernels, mean of ${steps} steps`);
console.log('| kernel | dispatches / step | GPU ms / step | % of kernel time |');
console.log('|---|---:|---:|---:|');
for (const k of kernels) console.log(`| ${k.name} | ${k.dispatches / steps} | ${fmt(k.milliseconds / steps)} | ${(100 * k.milliseconds / steps / gpuMs).toFixed(1)} |`);
optimizer.release();
release();
gpu.destroy();
process.exit(0);
