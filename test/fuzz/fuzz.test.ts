/**
 * Fuzzes every reader of outside bytes with mutated real inputs (see targets.ts, harness.ts).
 * SIMBERT_FUZZ_CASES (default 300 per reader), SIMBERT_FUZZ_FIRST (the first case index, 0),
 * SIMBERT_FUZZ_SEED, SIMBERT_FUZZ_READER (names, comma-separated) and SIMBERT_FUZZ_CASE (replay
 * that one case) choose what runs; failing inputs
 * are saved under SIMBERT_FUZZ_SAVE (default build/fuzz-failures) with the command replaying them.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { installAllocationMeter } from './allocation-meter.js';
import { judge, type CaseFailure } from './harness.js';
import { runInWorkers } from './run-worker.js';
import { TARGETS, type FuzzTarget } from './targets.js';
import { sharedFixturesDir } from '../support/fixtures.js';

const projectRoot = fileURLToPath(new URL('../../../', import.meta.url));
const DEFAULT_CASES = 300;
const DEFAULT_SEED = 20261130;

function integerSetting(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got '${raw}'`);
  return value;
}

const seed = integerSetting('SIMBERT_FUZZ_SEED', DEFAULT_SEED);
const single = process.env.SIMBERT_FUZZ_CASE ? integerSetting('SIMBERT_FUZZ_CASE', 0) : null;
const cases = single === null ? integerSetting('SIMBERT_FUZZ_CASES', DEFAULT_CASES) : 1;
const first = single ?? integerSetting('SIMBERT_FUZZ_FIRST', 0);
const only = process.env.SIMBERT_FUZZ_READER?.split(',').filter(Boolean) ?? null;
const saveDir = process.env.SIMBERT_FUZZ_SAVE ?? join(projectRoot, 'build', 'fuzz-failures');

const fixtures = sharedFixturesDir();
for (const name of ['tf-ckpt-tiny-bert', 'google-chinese-bert-index', 'vocab-zh', 'lcqmc-dev', 'stsb-zh-dev', 'pawsx-zh-dev']) {
  if (fixtures === null || !existsSync(join(fixtures, name))) {
    console.log(`skipped: fuzz seeds from shared fixture '${name}', absent (set SIMBERT_FIXTURES); its readers are still fuzzed from project-generated inputs`);
  }
}

function report(failure: CaseFailure): string {
  return [
    `${failure.kind} in ${failure.target}, seed ${failure.seed}, case ${failure.caseIndex}: ${failure.detail}`,
    `    seed input ${failure.seedInput}; mutations ${failure.mutations.join(', ')}`,
    `    input saved in ${failure.saved}`,
    `    replay: SIMBERT_FUZZ_SEED=${failure.seed} SIMBERT_FUZZ_READER=${failure.target} SIMBERT_FUZZ_CASE=${failure.caseIndex} node ${join('build', 'test', 'fuzz', 'fuzz.test.js')}`,
  ].join('\n');
}

for (const target of TARGETS) {
  if (only !== null && !only.includes(target.name)) continue;
  test(`${target.name}: ${cases} mutated inputs each end in a result or the reader's own error, in time and bounded memory`, async () => {
    const started = Date.now();
    const summary = await runInWorkers({ target: target.name, seed, first, cases, saveDir });
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(`info: fuzz ${target.name}: seed ${seed}, cases ${first}..${first + cases - 1}: ${summary.results} results, ${summary.ownErrors} own errors, ${summary.failures.length} failures, ${seconds} s (${summary.seeds.length} seed inputs)`);
    for (const failure of summary.failures) console.log(report(failure));
    assert.is(summary.cases, cases, 'every case ran');
    assert.is(summary.failures.length, 0, `${summary.failures.length} failing cases (above)`);
  });
}

// The harness itself must be able to fail: readers with each kind of bug are caught.
const meter = installAllocationMeter();
const buggy = (run: FuzzTarget['run']): FuzzTarget => ({
  name: 'buggy', mutated: 'x', seeds: () => [], run, ownError: (error) => error instanceof Error && error.message.startsWith('x: '),
});
const input = { x: new Uint8Array(100) };

test('the harness fails a reader that throws a foreign error, over-allocates, or is slow; passes its own error', () => {
  const kindOf = (run: FuzzTarget['run'], timeLimitMs?: number) => {
    const outcome = judge(buggy(run), input, '.', meter, timeLimitMs);
    return outcome.kind === 'failure' ? outcome.failure.kind : outcome.kind;
  };
  assert.is(kindOf(() => (null as unknown as { length: number }).length), 'foreign-error');
  assert.is(kindOf(() => {
    throw new Error('no file named here');
  }), 'foreign-error');
  assert.is(kindOf(() => {
    throw new Error('x: a problem');
  }), 'own-error');
  assert.is(kindOf(() => new Float32Array(2 ** 40)), 'allocation');
  assert.is(kindOf(() => {
    try {
      return new Uint8Array(64 << 20);
    } catch (error) {
      throw new Error(`x: wrapped ${String(error)}`);
    }
  }), 'allocation', 'an over-allocation the reader catches and re-wraps still fails the case');
  assert.is(kindOf(() => new Uint8Array(1000)), 'result');
  const busy = () => {
    for (const started = Date.now(); Date.now() - started < 30;);
  };
  assert.is(kindOf(busy, 10), 'slow');
});

test.run();
