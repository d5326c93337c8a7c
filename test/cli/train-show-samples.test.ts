import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateDemoData } from '../../src/train/demo-data.js';
import { errorLines, runCli, writeTinyModel } from '../support/tiny-model.js';

const root = mkdtempSync(join(tmpdir(), 'simbert-show-samples-'));
const demo = generateDemoData(3);
const chars = [...new Set(demo.groups.flat().join(''))].sort();
const model = writeTinyModel(join(root, 'model'), { hidden: 16, layers: 1, heads: 2, tokens: chars });
const trainFile = join(root, 'train.json');
writeFileSync(trainFile, JSON.stringify(demo.groups.slice(0, 12)));
const args = ['train', '--model', model.dir, '--train', trainFile, '--batch-size', '8', '--maxlen', '32', '--lr', '1e-3', '--steps-per-epoch', '2', '--epochs', '2'];

test('--show-samples N prints N paraphrases of the first texts of the first groups at each epoch end and logs them to metrics.jsonl', () => {
  const out = join(root, 'run');
  const result = runCli([...args, '--out', out, '--show-samples', '2']);
  assert.is(result.status, 0, result.stderr);
  const records = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line)).filter((r) => 'samples' in r);
  assert.equal(records.map((r) => r.epoch), [1, 2]);
  const shown = demo.groups.slice(0, 3).map((group) => group[0]);
  for (const record of records) {
    assert.equal(Object.keys(record).sort(), ['epoch', 'samples']);
    assert.equal(record.samples.map((s: { text: string }) => s.text), shown);
    for (const sample of record.samples) {
      assert.ok(sample.paraphrases.length <= 2);
      assert.not.ok(sample.paraphrases.includes(sample.text));
    }
  }
  const printed = `${result.stdout}${result.stderr}`;
  for (const text of shown) assert.match(printed, `epoch 2 paraphrases of ${text}: `);
});

test('--show-samples below 0 is a usage error', () => {
  const result = runCli([...args, '--out', join(root, 'bad'), '--show-samples', '-1']);
  assert.is(result.status, 2, result.stderr);
  assert.match(errorLines(result)[0], /--show-samples must be at least 0/);
});

test.run();
