/**
 * Runs fuzz cases of one reader: case i of seed s picks a seed input and stacks mutations with a
 * generator derived from (s, reader, i) alone, runs the reader, and judges the outcome. A case
 * passes when it ends in a result or the reader's own error (see targets.ts), within
 * CASE_TIME_LIMIT_MS, having asked for at most ALLOCATION_PER_INPUT_BYTE bytes of buffers per input
 * byte (plus ALLOCATION_SLACK), and without growing the heap by more than HEAP_GROWTH_LIMIT.
 * Failing inputs are written under `saveDir` to be replayed or added to test/fuzz/corpus.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AllocationMeter } from './allocation-meter.js';
import { caseRandom, mutate } from './mutate.js';
import type { FuzzTarget, InputFiles, SeedInput } from './targets.js';

/** Far above the milliseconds a case takes (about one), so a loaded machine never trips it; a quadratic blow-up does. */
export const CASE_TIME_LIMIT_MS = 5000;
export const ALLOCATION_PER_INPUT_BYTE = 128;
export const ALLOCATION_SLACK = 1 << 20;
export const HEAP_GROWTH_LIMIT = 256 << 20;

export type FailureKind = 'foreign-error' | 'slow' | 'allocation' | 'heap' | 'hang';

export interface CaseFailure {
  target: string;
  seed: number;
  caseIndex: number;
  seedInput: string;
  mutations: string[];
  kind: FailureKind;
  detail: string;
  /** The folder holding the failing input's files, when saved. */
  saved?: string;
}

export interface RunSummary {
  target: string;
  seed: number;
  first: number;
  cases: number;
  results: number;
  ownErrors: number;
  failures: CaseFailure[];
  seeds: string[];
}

export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return `a thrown ${typeof error}: ${String(error)}`;
  const frame = (error.stack ?? '').split('\n').find((line) => line.trim().startsWith('at '))?.trim() ?? '';
  return `${error.name}: ${error.message.slice(0, 300)}${frame ? ` (${frame})` : ''}`;
}

export interface CaseInput {
  seedInput: SeedInput;
  files: InputFiles;
  mutations: string[];
}

/** The input of one case, exactly as every run with this seed builds it. */
export function buildCase(target: FuzzTarget, seeds: readonly SeedInput[], seed: number, caseIndex: number): CaseInput {
  const random = caseRandom(seed, target.name, caseIndex);
  const seedInput = random.pick(seeds);
  const original = seedInput.files[target.mutated] ?? new Uint8Array(0);
  const { bytes, mutations } = target.mutate ? target.mutate(original, random) : (() => {
    const { bytes: mutated, applied } = mutate(original, random);
    return { bytes: mutated, mutations: applied as string[] };
  })();
  return { seedInput, files: { ...seedInput.files, [target.mutated]: bytes }, mutations };
}

export type Outcome = { kind: 'result' } | { kind: 'own-error' } | { kind: 'failure'; failure: Omit<CaseFailure, 'target' | 'seed' | 'caseIndex' | 'seedInput' | 'mutations'> };

/** Runs the reader on `files` (named as if in the folder `dir`) and judges the outcome. */
export function judge(target: FuzzTarget, files: InputFiles, dir: string, meter: AllocationMeter, timeLimitMs = CASE_TIME_LIMIT_MS): Outcome {
  const inputBytes = Object.values(files).reduce((sum, bytes) => sum + bytes.length, 0);
  const budget = ALLOCATION_PER_INPUT_BYTE * inputBytes + ALLOCATION_SLACK;
  const heapBefore = process.memoryUsage();
  const started = performance.now();
  let outcome: Outcome;
  meter.start(budget);
  try {
    target.run(files, dir);
    outcome = { kind: 'result' };
  } catch (error) {
    outcome = target.ownError(error, dir) ? { kind: 'own-error' } : { kind: 'failure', failure: { kind: 'foreign-error', detail: describeError(error) } };
  } finally {
    meter.stop();
  }
  const elapsed = performance.now() - started;
  const heapAfter = process.memoryUsage();
  const violation = meter.violation;
  if (violation) {
    return { kind: 'failure', failure: { kind: 'allocation', detail: `asked for ${violation.requested} bytes with ${inputBytes} input bytes (budget ${violation.budget}) at ${violation.where}` } };
  }
  const growth = heapAfter.heapUsed + heapAfter.arrayBuffers - heapBefore.heapUsed - heapBefore.arrayBuffers;
  if (growth > HEAP_GROWTH_LIMIT + ALLOCATION_PER_INPUT_BYTE * inputBytes) {
    return { kind: 'failure', failure: { kind: 'heap', detail: `the heap grew by ${growth} bytes for ${inputBytes} input bytes` } };
  }
  if (elapsed > timeLimitMs) {
    return { kind: 'failure', failure: { kind: 'slow', detail: `took ${elapsed.toFixed(0)} ms (limit ${timeLimitMs} ms) for ${inputBytes} input bytes` } };
  }
  return outcome;
}

export function saveInput(saveDir: string, target: string, seed: number, caseIndex: number, files: InputFiles): string {
  const dir = join(saveDir, `${target}-seed${seed}-case${caseIndex}`);
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
  return dir;
}

export interface RunOptions {
  seed: number;
  first: number;
  cases: number;
  /** The folder the input files are named in (a scratch folder). */
  dir: string;
  saveDir: string;
  meter: AllocationMeter;
  /** Called before each case with its index (the hang guard watches it). */
  onCase?: (caseIndex: number) => void;
  /** Called after each case that passed, with how it ended. */
  onPass?: (kind: 'result' | 'own-error') => void;
}

export function runCases(target: FuzzTarget, seeds: readonly SeedInput[], options: RunOptions): RunSummary {
  const summary: RunSummary = {
    target: target.name, seed: options.seed, first: options.first, cases: 0, results: 0, ownErrors: 0, failures: [],
    seeds: seeds.map((seed) => seed.origin),
  };
  for (let caseIndex = options.first; caseIndex < options.first + options.cases; caseIndex++) {
    options.onCase?.(caseIndex);
    const input = buildCase(target, seeds, options.seed, caseIndex);
    const outcome = judge(target, input.files, options.dir, options.meter);
    summary.cases++;
    if (outcome.kind === 'result') summary.results++;
    else if (outcome.kind === 'own-error') summary.ownErrors++;
    if (outcome.kind !== 'failure') options.onPass?.(outcome.kind);
    else {
      summary.failures.push({
        target: target.name, seed: options.seed, caseIndex, seedInput: input.seedInput.origin, mutations: input.mutations, ...outcome.failure,
        saved: saveInput(options.saveDir, target.name, options.seed, caseIndex, input.files),
      });
    }
  }
  return summary;
}
