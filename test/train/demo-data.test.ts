import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTestPairs, loadTrainGroups } from '../../src/node/data-files.js';
import { buildDemoVocab, generateDemoData } from '../../src/train/demo-data.js';
import { writeDemoData } from '../../src/node/demo-files.js';

const data = generateDemoData();
const withoutQuestionMark = (text: string) => text.replace(/？$/, '');

test('the same seed gives the same data; another seed gives other data', () => {
  assert.equal(generateDemoData(), data);
  assert.equal(generateDemoData(7), generateDemoData(7));
  assert.is.not(JSON.stringify(generateDemoData(7).groups), JSON.stringify(data.groups));
});

test('hundreds of groups of 3 to 6 distinct texts, each with a key', () => {
  assert.ok(data.groups.length >= 300 && data.groups.length <= 600, `${data.groups.length} groups`);
  assert.is(data.groupKeys.length, data.groups.length);
  assert.is(new Set(data.groupKeys).size, data.groupKeys.length);
  for (const group of data.groups) {
    assert.ok(group.length >= 3 && group.length <= 6, `group of ${group.length}`);
    assert.is(new Set(group.map(withoutQuestionMark)).size, group.length, `repeated text in ${group.join(' / ')}`);
  }
  // All intents are present, and their groups are mixed rather than sorted.
  const intents = new Set(data.groupKeys.map((key) => key.replace(/-\d+$/, '')));
  assert.equal([...intents].sort(), ['hours', 'howto', 'price', 'ticket', 'travel', 'way', 'weather']);
  const firstIntents = new Set(data.groupKeys.slice(0, 20).map((key) => key.replace(/-\d+$/, '')));
  assert.ok(firstIntents.size >= 3, `the first 20 groups cover only ${[...firstIntents].join(', ')}`);
});

test('a few hundred balanced test pairs of two different texts', () => {
  const positives = data.testPairs.filter((pair) => pair.label === 1).length;
  const negatives = data.testPairs.filter((pair) => pair.label === 0).length;
  assert.ok(data.testPairs.length >= 200 && data.testPairs.length <= 600, `${data.testPairs.length} pairs`);
  assert.is(positives + negatives, data.testPairs.length);
  assert.is(positives, negatives);
  for (const pair of data.testPairs) assert.is.not(withoutQuestionMark(pair.a), withoutQuestionMark(pair.b));
});

test('positive test pairs come from slot fillings that no training group uses', () => {
  const trainTexts = new Set(data.groups.flat().map(withoutQuestionMark));
  for (const pair of data.testPairs.filter((candidate) => candidate.label === 1)) {
    assert.not.ok(trainTexts.has(withoutQuestionMark(pair.a)), pair.a);
    assert.not.ok(trainTexts.has(withoutQuestionMark(pair.b)), pair.b);
  }
});

test('many negatives are hard: the two texts share most of their characters', () => {
  const overlap = (a: string, b: string) => {
    const first = new Set(a);
    const second = new Set(b);
    const shared = [...first].filter((character) => second.has(character)).length;
    return shared / (first.size + second.size - shared);
  };
  const negatives = data.testPairs.filter((pair) => pair.label === 0);
  const hard = negatives.filter((pair) => overlap(pair.a, pair.b) >= 0.5).length;
  assert.ok(hard >= negatives.length / 4, `${hard} of ${negatives.length} negatives overlap by half`);
});

test('the vocabulary starts with the special tokens and covers every character once', () => {
  assert.equal(data.vocabTokens.slice(0, 5), ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
  assert.is(new Set(data.vocabTokens).size, data.vocabTokens.length);
  const vocab = new Set(data.vocabTokens);
  const texts = [...data.groups.flat(), ...data.testPairs.flatMap((pair) => [pair.a, pair.b])];
  for (const text of texts) {
    for (const character of text) assert.ok(vocab.has(character), `${character} of ${text} is not in the vocabulary`);
  }
  assert.not.ok(texts.some((text) => /[A-Za-z0-9\s]/.test(text)), 'the templates use Chinese characters only');
});

test('buildDemoVocab normalises like the tokenizer and adds continuations for letters and digits', () => {
  const vocab = buildDemoVocab(['Café 2 天', '天\u200b']);
  assert.equal(vocab, ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', '2', 'a', 'c', 'e', 'f', '天', '##2', '##a', '##c', '##e', '##f']);
});

test('the written files load back as the same groups, pairs and vocabulary', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'simbert-demo-')), 'demo');
  const files = writeDemoData(dir, data);
  const groups = loadTrainGroups(files.train);
  assert.is(groups.format, 'object');
  assert.equal(groups.groups, data.groups);
  assert.is(groups.dropped, 0);
  const pairs = loadTestPairs(files.test);
  assert.is(pairs.graded, false);
  assert.equal(pairs.pairs, data.testPairs);
  assert.equal(readFileSync(files.vocab, 'utf8').split('\n').slice(0, -1), data.vocabTokens);
  const keys = Object.keys(JSON.parse(readFileSync(files.train, 'utf8')) as object);
  assert.equal(keys, data.groupKeys);
});

test.run();
