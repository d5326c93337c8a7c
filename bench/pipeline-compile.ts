/**
 * The cold compile cost of every pipeline the demo uses, one by one. The demo (`train` without
 * data, `--max-steps` short) runs once with the shader cache as it is, recording each pipeline's
 * source and its first dispatch (buffer sizes, texture sizes, uniform values, workgroups). A
 * child process with a new, empty shader cache (XDG_CACHE_HOME) then replays those dispatches one
 * at a time on zero-filled buffers: it times the pipeline's creation, the first dispatch up to
 * gpu.sync() (lavapipe compiles there, lazily, on its worker thread), and a second dispatch of the
 * same work, so compile ≈ first - second.
 *
 *   node build/bench/pipeline-compile.js [--max-steps N]        record, then replay cold
 *   node build/bench/pipeline-compile.js --replay FILE          (internal) the cold replay
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Gpu, type BindingValue, type Kernel } from '../src/gpu/device.js';
import type { KernelSource } from '../src/gpu/kernel.js';
import type { PooledBuffer } from '../src/gpu/pool.js';
import type { ScratchTexture } from '../src/gpu/textures.js';
import { median } from './stats.js';

type RecordedBinding = { buffer: number } | { texels: number } | { uniform: Record<string, number> };

interface RecordedDispatch {
  source: KernelSource;
  bindings: Record<string, RecordedBinding>;
  workgroups: [number, number?, number?];
}

function recordBinding(value: BindingValue): RecordedBinding {
  if (typeof (value as PooledBuffer).capacity === 'number' && typeof (value as PooledBuffer).buffer === 'object') return { buffer: (value as PooledBuffer).byteLength };
  if (typeof (value as ScratchTexture).texels === 'number' && typeof (value as ScratchTexture).view === 'object') return { texels: (value as ScratchTexture).texels };
  return { uniform: { ...(value as Record<string, number>) } };
}

/** Runs the demo in this process and returns the first dispatch of every distinct pipeline, in order. */
async function recordDemo(maxSteps: number): Promise<RecordedDispatch[]> {
  const sources = new Map<Kernel, KernelSource>();
  const recorded = new Map<Kernel, RecordedDispatch>();
  const kernel = Gpu.prototype.kernel;
  const dispatch = Gpu.prototype.dispatch;
  Gpu.prototype.kernel = function (this: Gpu, source: KernelSource): Kernel {
    const compiled = kernel.call(this, source);
    sources.set(compiled, source);
    return compiled;
  };
  Gpu.prototype.dispatch = function (this: Gpu, compiled: Kernel, bindings: Record<string, BindingValue>, workgroups: [number, number?, number?]): void {
    if (!recorded.has(compiled)) {
      const entries = Object.fromEntries(Object.entries(bindings).map(([name, value]) => [name, recordBinding(value)]));
      recorded.set(compiled, { source: sources.get(compiled)!, bindings: entries, workgroups: [...workgroups] });
    }
    dispatch.call(this, compiled, bindings, workgroups);
  };
  const { parseArgs } = await import('../src/cli/args.js');
  const { trainCommand } = await import('../src/cli/train.js');
  const out = mkdtempSync(join(tmpdir(), 'simbert-compile-'));
  try {
    const status = await trainCommand.run(parseArgs(trainCommand.spec, ['--out', join(out, 'run'), '--max-steps', String(maxSteps)]));
    if (status !== 0) throw new Error(`the demo run exited ${status}`);
  } finally {
    rmSync(out, { recursive: true, force: true });
    Gpu.prototype.kernel = kernel;
    Gpu.prototype.dispatch = dispatch;
  }
  return [...recorded.values()];
}

interface ReplayTiming {
  name: string;
  createMs: number;
  firstMs: number;
  secondMs: number;
}

/** Replays each recorded dispatch twice, syncing after each; run with an empty shader cache. */
async function replay(file: string): Promise<ReplayTiming[]> {
  const { initNodeEngine } = await import('../src/node/gpu.js');
  const gpu = await initNodeEngine();
  const dispatches = JSON.parse(readFileSync(file, 'utf8')) as RecordedDispatch[];
  const timings: ReplayTiming[] = [];
  for (const [index, recorded] of dispatches.entries()) {
    const buffers: PooledBuffer[] = [];
    const bindings: Record<string, BindingValue> = {};
    for (const [name, binding] of Object.entries(recorded.bindings)) {
      if ('buffer' in binding) {
        const buffer = gpu.pool.acquire(binding.buffer, `replay ${name}`);
        // Zeros, not what the pool's last borrower left: a stale float read as an offset would loop for minutes.
        gpu.device.queue.writeBuffer(buffer.buffer, 0, new Uint8Array(buffer.capacity));
        buffers.push(buffer);
        bindings[name] = buffer;
      } else if ('texels' in binding) bindings[name] = gpu.textures.acquire(`replay ${index} ${name}`, binding.texels);
      else bindings[name] = binding.uniform;
    }
    await gpu.sync();
    process.stderr.write(`${index + 1}/${dispatches.length} ${recorded.source.name} (${JSON.stringify(recorded.workgroups)}): `);
    const started = performance.now();
    const compiled = gpu.kernel(recorded.source);
    const createMs = performance.now() - started;
    const timeDispatch = async () => {
      const begin = performance.now();
      gpu.dispatch(compiled, bindings, recorded.workgroups);
      await gpu.sync();
      return performance.now() - begin;
    };
    const firstMs = await timeDispatch();
    const secondMs = median([await timeDispatch(), await timeDispatch(), await timeDispatch()]);
    timings.push({ name: recorded.source.name, createMs, firstMs, secondMs });
    process.stderr.write(`first ${firstMs.toFixed(0)} ms, warm ${secondMs.toFixed(0)} ms\n`);
    for (const buffer of buffers) gpu.pool.release(buffer);
  }
  gpu.destroy();
  return timings;
}

const REPLAY_MARK = 'pipeline-compile timings: ';

// build/ is a link to the real folder, which import.meta.url names.
if (realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === '--replay') {
    console.log(`${REPLAY_MARK}${JSON.stringify(await replay(process.argv[3]))}`);
    process.exit(0);
  }
  const stepsFlag = process.argv.indexOf('--max-steps');
  const maxSteps = stepsFlag > 0 ? Number(process.argv[stepsFlag + 1]) : 2;
  const dispatches = await recordDemo(maxSteps);
  const root = mkdtempSync(join(tmpdir(), 'simbert-compile-cache-'));
  try {
    const file = join(root, 'dispatches.json');
    writeFileSync(file, JSON.stringify(dispatches));
    const env: NodeJS.ProcessEnv = { ...process.env, XDG_CACHE_HOME: join(root, 'cache') };
    delete env.MESA_SHADER_CACHE_DIR;
    delete env.MESA_SHADER_CACHE_DISABLE;
    const load = loadavg()[0];
    const result = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--replay', file], { encoding: 'utf8', env, timeout: 900_000, maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'inherit'] });
    const line = result.stdout.split('\n').find((text) => text.startsWith(REPLAY_MARK));
    if (result.status !== 0 || !line) throw new Error(`the replay failed (exit ${result.status}, signal ${result.signal})`);
    const timings = (JSON.parse(line.slice(REPLAY_MARK.length)) as ReplayTiming[]).map((t) => ({ ...t, compileMs: t.firstMs - t.secondMs }));
    const fmt = (ms: number) => ms.toFixed(0);
    console.log(`# cold compile per pipeline: the demo (--max-steps ${maxSteps}), ${timings.length} distinct pipelines, empty shader cache (load average ${load.toFixed(2)} at the start)`);
    console.log();
    console.log('| # | kernel | create ms | first dispatch + sync ms | warm dispatch + sync ms | compile ≈ first - warm ms |');
    console.log('|---:|---|---:|---:|---:|---:|');
    const order = timings.map((t, i) => ({ ...t, i })).sort((a, b) => b.compileMs - a.compileMs);
    for (const t of order) console.log(`| ${t.i + 1} | ${t.name} | ${fmt(t.createMs)} | ${fmt(t.firstMs)} | ${fmt(t.secondMs)} | ${fmt(t.compileMs)} |`);
    const sum = (f: (t: (typeof timings)[number]) => number) => fmt(timings.reduce((total, t) => total + f(t), 0));
    console.log(`| | total | ${sum((t) => t.createMs)} | ${sum((t) => t.firstMs)} | ${sum((t) => t.secondMs)} | ${sum((t) => t.compileMs)} |`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  process.exit(0);
}
