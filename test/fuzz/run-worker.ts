/**
 * Runs one reader's fuzz cases in a worker (worker.ts) and turns a hang or a crash of the worker
 * into a failure of its case; the cases after it run in a fresh worker, so one hang hides nothing.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { buildCase, describeError, saveInput, type FailureKind, type RunSummary } from './harness.js';
import { findTarget } from './targets.js';
import type { WorkerInput } from './worker.js';

/** With cases taking milliseconds, a case still running after this long is stuck. */
export const HANG_LIMIT_MS = 30_000;
/** A worker's heap limit: a reader that tries to fill memory dies there, not the test process. */
const WORKER_HEAP_MB = 1024;

export interface FuzzRun {
  target: string;
  seed: number;
  first: number;
  cases: number;
  saveDir: string;
}

export async function runInWorkers(run: FuzzRun): Promise<RunSummary> {
  const end = run.first + run.cases;
  const total: RunSummary = { target: run.target, seed: run.seed, first: run.first, cases: 0, results: 0, ownErrors: 0, failures: [], seeds: [] };
  for (let first = run.first; first < end;) {
    const part = await runInWorker({ ...run, first, cases: end - first });
    total.cases += part.cases;
    total.results += part.results;
    total.ownErrors += part.ownErrors;
    total.failures.push(...part.failures);
    total.seeds = part.seeds;
    first += part.cases;
  }
  return total;
}

function runInWorker(run: FuzzRun): Promise<RunSummary> {
  const dir = mkdtempSync(join(tmpdir(), `simbert-fuzz-${run.target}-`));
  mkdirSync(run.saveDir, { recursive: true });
  const progress = new SharedArrayBuffer(12);
  const current = new Int32Array(progress);
  current[0] = run.first;
  const workerInput: WorkerInput = { ...run, dir, progress };
  const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: workerInput, resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } });

  /** A summary for a run the worker could not finish: case `caseIndex` failed with `kind`. */
  const stopped = (kind: FailureKind, detail: string): RunSummary => {
    const caseIndex = Atomics.load(current, 0);
    const target = findTarget(run.target);
    const scratch = mkdtempSync(join(tmpdir(), 'simbert-fuzz-replay-'));
    const seeds = target.seeds(scratch);
    rmSync(scratch, { recursive: true, force: true });
    const input = buildCase(target, seeds, run.seed, caseIndex);
    return {
      target: run.target, seed: run.seed, first: run.first, cases: caseIndex - run.first + 1,
      results: Atomics.load(current, 1), ownErrors: Atomics.load(current, 2), seeds: seeds.map((seed) => seed.origin),
      failures: [{
        target: run.target, seed: run.seed, caseIndex, seedInput: input.seedInput.origin, mutations: input.mutations, kind, detail,
        saved: saveInput(run.saveDir, run.target, run.seed, caseIndex, input.files),
      }],
    };
  };

  return new Promise((resolve) => {
    let last = -1;
    let lastChange = Date.now();
    let settled = false;
    const settle = (summary: RunSummary) => {
      if (settled) return;
      settled = true;
      clearInterval(watch);
      rmSync(dir, { recursive: true, force: true });
      resolve(summary);
    };
    const watch = setInterval(() => {
      const now = Atomics.load(current, 0);
      if (now !== last) {
        last = now;
        lastChange = Date.now();
      } else if (Date.now() - lastChange > HANG_LIMIT_MS) {
        void worker.terminate();
        if (!settled) settle(stopped('hang', `no result after ${HANG_LIMIT_MS / 1000} s`));
      }
    }, 250);
    worker.on('message', (summary: RunSummary) => settle(summary));
    worker.on('error', (error) => settled || settle(stopped(/memory/i.test(String(error)) ? 'heap' : 'foreign-error', `the worker died: ${describeError(error)}`)));
    worker.on('exit', (code) => settled || settle(stopped('foreign-error', `the worker exited with code ${code} before reporting`)));
  });
}
