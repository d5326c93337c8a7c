import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadTestPairs, loadTrainGroups } from '../../src/node/data-files.js';
import { writeDemoData } from '../../src/node/demo-files.js';
import { loadVocab } from '../../src/node/vocab-file.js';
import { Tokenizer } from '../../src/model/tokenizer.js';
import { wordPieceCounter } from '../../src/train/data.js';
import { generateDemoData } from '../../src/train/demo-data.js';
import { DEMO, demoConfig, demoTrainOptions, prepareDemoRun } from '../../src/train/demo-recipe.js';

test('the demo prepared in memory (the browser) equals the demo the CLI writes to disk and reads back', () => {
  const dir = mkdtempSync(join(tmpdir(), 'simbert-demo-recipe-'));
  try {
    const files = writeDemoData(dir, generateDemoData(DEMO.dataSeed));
    const { vocab } = loadVocab(files.vocab, { simplified: true });
    const counter = wordPieceCounter(new Tokenizer(vocab));
    const inMemory = prepareDemoRun(42);
    assert.equal(inMemory.vocab.tokens, vocab.tokens);
    assert.equal(inMemory.config, demoConfig(vocab.tokens.length));
    assert.equal(inMemory.groups, loadTrainGroups(files.train, counter).groups);
    assert.equal(inMemory.test, loadTestPairs(files.test, counter));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the demo's options are the CLI's defaults with the demo's learning rate and maxlen", () => {
  assert.equal(demoTrainOptions({ maxSteps: 3 }), {
    maxlen: 64, batchSize: 16, epochs: 3, lr: 1e-3, weightDecay: 0.01, threshold: 0.8, seed: 42, maxSteps: 3, shuffle: true,
  });
});

test.run();
