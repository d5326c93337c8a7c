/**
 * Replays test/fuzz/corpus: inputs that once made a reader fail (saved by fuzz.test.ts), one
 * folder per case under the reader's name, holding the files the reader is given. Each must now
 * end in a result or the reader's own error, as in the fuzz run.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { installAllocationMeter } from './allocation-meter.js';
import { judge } from './harness.js';
import { findTarget, TARGETS } from './targets.js';

const corpus = join(fileURLToPath(new URL('../../../', import.meta.url)), 'test', 'fuzz', 'corpus');
const meter = installAllocationMeter();

const folders = readdirSync(corpus).filter((name) => name !== 'README.md').sort();

test('every corpus folder is named after a fuzz target', () => {
  const names = new Set(TARGETS.map((target) => target.name));
  for (const folder of folders) assert.ok(names.has(folder), `test/fuzz/corpus/${folder} is no fuzz target`);
});

for (const folder of folders) {
  const target = findTarget(folder);
  for (const caseName of readdirSync(join(corpus, folder)).sort()) {
    test(`corpus ${folder}/${caseName} ends in a result or the reader's own error`, () => {
      const caseDir = join(corpus, folder, caseName);
      const files = Object.fromEntries(readdirSync(caseDir).map((file) => [file, new Uint8Array(readFileSync(join(caseDir, file)))]));
      const outcome = judge(target, files, caseDir, meter);
      assert.ok(outcome.kind !== 'failure', outcome.kind === 'failure' ? `${outcome.failure.kind}: ${outcome.failure.detail}` : '');
    });
  }
}

test.run();
