import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spearmanCorrelation } from '../../src/train/metrics.js';
import { readNpyFile } from '../../src/node/npy-file.js';
import { sharedFixture } from '../support/fixtures.js';
import { errorLines, runCli, writeTinyModel } from '../support/tiny-model.js';
import { cosine } from '../support/reference.js';

const scratch = mkdtempSync(join(tmpdir(), 'simbert-eval-cli-'));
const model = writeTinyModel(join(scratch, 'model'), { hidden: 24, layers: 2, heads: 3 });
const METRIC_KEYS = ['accuracy', 'threshold', 'best_threshold', 'best_threshold_accuracy', 'auc', 'spearman', 'pairs', 'positives'];

const PAIRS: [string, string, number][] = [
  ['我好', '你好吗', 1],
  ['他是谁', '怎么去', 0],
  ['我们去', '你们来', 0],
  ['大人', '小人', 1],
  ['什么天', '如何去', 0],
  ['请问你是谁', '你是谁', 1],
  ['多少人', '几个人', 1],
  ['这个好', '那个不好', 0],
  ['年', '天', 0],
  ['她来了', '他去了', 1],
];

function writeFile(name: string, text: string): string {
  const path = join(scratch, name);
  writeFileSync(path, text);
  return path;
}

const testPath = writeFile('pairs.txt', PAIRS.map((pair) => pair.join('\t')).join('\n') + '\n');

/** Cosines of the pairs from `encode` run on the texts of both columns. */
function cosinesFromEncode(pairs: readonly [string, string, number][]): number[] {
  const textsPath = writeFile('pair-texts.txt', pairs.flatMap(([a, b]) => [a, b]).join('\n') + '\n');
  const out = join(scratch, 'pair-texts.npy');
  const encoded = runCli(['encode', '--model', model.dir, '--texts', textsPath, '--out', out]);
  assert.is(encoded.status, 0, encoded.stderr);
  const { shape, data } = readNpyFile(out);
  const hidden = shape[1];
  const row = (i: number) => data.subarray(i * hidden, (i + 1) * hidden);
  return pairs.map((_, i) => cosine(row(2 * i), row(2 * i + 1)));
}

function evalJson(result: ReturnType<typeof runCli>): Record<string, number | null> {
  assert.is(result.status, 0, result.stderr);
  const lines = result.stdout.split('\n').filter((line) => line !== '');
  assert.is(lines.length, 1, `stdout must be one JSON object:\n${result.stdout}`);
  return JSON.parse(lines[0]);
}

/** Accuracy of `score > threshold` against labels, counted directly. */
function accuracy(scores: number[], labels: number[], threshold: number): number {
  return scores.filter((score, i) => (score > threshold) === (labels[i] === 1)).length / scores.length;
}

test('--help lists the flags and the output keys', () => {
  const result = runCli(['eval', '--help']);
  assert.is(result.status, 0);
  for (const text of ['--test FILE', '--threshold X', '--labels auto|binary|graded', '--scores FILE', '--batch-size N', '--model DIR', '--memory-limit SIZE', '"best_threshold_accuracy"']) {
    assert.ok(result.stdout.includes(text), `help lacks ${text}`);
  }
});

test('the JSON metrics equal those computed by hand from encode vectors', () => {
  const cosines = cosinesFromEncode(PAIRS);
  const labels = PAIRS.map((pair) => pair[2]);
  // A threshold between the middle cosines, so that accuracy is neither 0 nor 1 by construction.
  const sorted = [...cosines].sort((a, b) => a - b);
  const threshold = (sorted[4] + sorted[5]) / 2;
  const scoresPath = join(scratch, 'scores.txt');
  const metrics = evalJson(runCli(['eval', '--model', model.dir, '--test', testPath, '--threshold', String(threshold), '--scores', scoresPath, '--batch-size', '4']));
  assert.equal(Object.keys(metrics), METRIC_KEYS);

  const scores = readFileSync(scoresPath, 'utf8').trimEnd().split('\n').map(Number);
  assert.is(scores.length, PAIRS.length);
  scores.forEach((score, i) => assert.ok(Math.abs(score - cosines[i]) < 1e-5, `pair ${i}: eval ${score}, encode ${cosines[i]}`));

  assert.is(metrics.pairs, PAIRS.length);
  assert.is(metrics.positives, 5);
  assert.is(metrics.threshold, threshold);
  assert.is(metrics.accuracy, accuracy(scores, labels, threshold));
  // The best threshold: no cut between or around the scores does better, and it achieves its accuracy.
  const cuts = [Math.min(...scores) - 1, ...scores];
  const best = Math.max(...cuts.map((cut) => accuracy(scores, labels, cut)));
  assert.is(metrics.best_threshold_accuracy, best);
  assert.is(accuracy(scores, labels, metrics.best_threshold as number), best);
  // AUC: the share of (positive, negative) pairs ranked right, ties counting half.
  let wins = 0;
  const positives = scores.filter((_, i) => labels[i] === 1);
  const negatives = scores.filter((_, i) => labels[i] === 0);
  for (const p of positives) for (const n of negatives) wins += p > n ? 1 : p === n ? 0.5 : 0;
  assert.ok(Math.abs((metrics.auc as number) - wins / (positives.length * negatives.length)) < 1e-12);
  assert.ok(Math.abs((metrics.spearman as number) - spearmanCorrelation(scores, labels)) < 1e-12);

  // The default threshold is the recipe's 0.8.
  assert.is(evalJson(runCli(['eval', '--model', model.dir, '--test', testPath])).threshold, 0.8);
});

test('undefined metrics print null; graded labels count scores above 2.5 as positives', () => {
  const allPositive = writeFile('all-positive.txt', '我好\t你好\t1\n他\t她\t1\n');
  const single = evalJson(runCli(['eval', '--model', model.dir, '--test', allPositive]));
  assert.is(single.auc, null);
  assert.is(single.spearman, null);
  assert.is(single.positives, 2);

  const graded = writeFile('graded.txt', '我好\t你好\t4.5\n他\t她\t0\n多少\t几个\t2.5\n大人\t小人\t3\r\n');
  const scoresPath = join(scratch, 'graded-scores.txt');
  const metrics = evalJson(runCli(['eval', '--model', model.dir, '--test', graded, '--scores', scoresPath]));
  assert.is(metrics.pairs, 4);
  assert.is(metrics.positives, 2);
  const scores = readFileSync(scoresPath, 'utf8').trimEnd().split('\n').map(Number);
  assert.ok(Math.abs((metrics.spearman as number) - spearmanCorrelation(scores, [4.5, 0, 2.5, 3])) < 1e-12);

  const insisted = runCli(['eval', '--model', model.dir, '--test', graded, '--labels', 'binary']);
  assert.is(insisted.status, 1);
  assert.match(errorLines(insisted)[0], new RegExp(`^simbert eval: ${graded}: line 1: expected a binary label 0 or 1, found 4.5$`));
});

test('errors exit non-zero with one message and leave no scores file', () => {
  const dir = join(scratch, 'errors');
  mkdirSync(dir);
  const scoresPath = join(dir, 'scores.txt');
  const run = (...args: string[]) => runCli(['eval', ...args, '--scores', scoresPath]);
  const expect = (result: ReturnType<typeof runCli>, status: number, pattern: RegExp) => {
    assert.is(result.status, status, result.stderr);
    const lines = errorLines(result);
    assert.is(lines.length, status === 2 ? 2 : 1, result.stderr);
    assert.match(lines[0], pattern);
    assert.is(result.stdout, '');
  };
  expect(run('--model', model.dir), 2, /^simbert eval: --test is required$/);
  expect(run('--model', model.dir, '--test', testPath, '--labels', 'fuzzy'), 2, /--labels must be one of auto, binary, graded, got 'fuzzy'/);
  expect(run('--model', model.dir, '--test', testPath, '--threshold', 'high'), 2, /--threshold expects a number, got 'high'/);
  expect(run('--test', testPath), 2, /^simbert eval: a model needs --model DIR, or all of --config, --checkpoint and --vocab/);
  expect(run('--config', model.configPath, '--test', testPath), 2, /missing: --checkpoint, --vocab\)$/);
  const missing = join(scratch, 'no-such-test.txt');
  expect(run('--model', model.dir, '--test', missing), 1, new RegExp(`^simbert eval: ${missing}: file: cannot read it`));
  const badLabel = writeFile('bad-label.txt', '我好\t你好\t1\n他\t她\tyes\n');
  expect(run('--model', model.dir, '--test', badLabel), 1, new RegExp(`^simbert eval: ${badLabel}: line 2: expected a label 0 or 1, or a score from 0 to 5, found "yes"$`));
  const twoColumns = writeFile('two-columns.txt', '我好\t你好\n');
  expect(run('--model', model.dir, '--test', twoColumns), 1, new RegExp(`${twoColumns}: line 1: expected 3 tab-separated columns`));
  const emptyText = writeFile('empty-text.txt', '我好\t你好\t1\n\u200b\t她\t0\n');
  expect(run('--model', model.dir, '--test', emptyText), 1, new RegExp(`^simbert eval: ${emptyText}: line 2, text1: text .* is empty after tokenizing`));
  const strayLabel = writeFile('stray-label.txt', '我好\t你好\t1\n他\t她\t0\n大人\t小人\t2\n多少\t几个\t1\n');
  expect(run('--model', model.dir, '--test', strayLabel), 1, new RegExp(`^simbert eval: ${strayLabel}: line 3: label 2 in a set whose other labels are 0 or 1`));
  const invalidUtf8 = join(scratch, 'invalid-utf8.txt');
  writeFileSync(invalidUtf8, Uint8Array.from([...new TextEncoder().encode('我好\t你好\t1\n他'), 0xff, ...new TextEncoder().encode('\t她\t0\n')]));
  expect(run('--model', model.dir, '--test', invalidUtf8), 1, new RegExp(`^simbert eval: ${invalidUtf8}: line 2: not valid UTF-8 text$`));
  assert.equal(readdirSync(dir), []);
  assert.not.ok(existsSync(scoresPath));
});

const lcqmc = sharedFixture('lcqmc-dev');
(lcqmc === null ? test.skip : test)('real data flows: the first 200 pairs of LCQMC dev', () => {
  const lines = readFileSync(join(lcqmc ?? '', 'dev.txt'), 'utf8').split('\n').slice(0, 200);
  const head = writeFile('lcqmc-head.txt', `${lines.join('\n')}\n`);
  const characters = [...new Set([...lines.join('')].filter((char) => /\p{Script=Han}/u.test(char)))];
  const lcqmcModel = writeTinyModel(join(scratch, 'lcqmc-model'), { hidden: 16, layers: 1, tokens: characters });
  const metrics = evalJson(runCli(['eval', '--model', lcqmcModel.dir, '--test', head]));
  assert.equal(Object.keys(metrics), METRIC_KEYS);
  assert.is(metrics.pairs, 200);
  assert.is(metrics.positives, lines.filter((line) => line.endsWith('\t1')).length);
  for (const key of ['accuracy', 'best_threshold_accuracy', 'auc']) {
    const value = metrics[key] as number;
    assert.ok(value >= 0 && value <= 1, `${key} = ${value}`);
  }
  assert.ok((metrics.best_threshold_accuracy as number) >= (metrics.accuracy as number));
});

test.run();
