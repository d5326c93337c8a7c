import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readNpyFile } from '../../src/node/npy-file.js';
import { errorLines, runCli, writeTinyModel } from '../support/tiny-model.js';
import { cosine } from '../support/reference.js';

const scratch = mkdtempSync(join(tmpdir(), 'simbert-similar-cli-'));
const model = writeTinyModel(join(scratch, 'model'), { hidden: 16, layers: 2 });
// Line 5 repeats line 1, so their scores tie exactly and line 1 must come first.
const CORPUS = ['我好', '你好吗', '他是谁', '怎么去天上', '我好', '大人不来', '多少人去', '请问这个', '那年多少天', '如何来'];
const QUERIES = ['你好', '谁去了', '我好', '多少'];

function writeFile(name: string, text: string): string {
  const path = join(scratch, name);
  writeFileSync(path, text);
  return path;
}

const corpusPath = writeFile('corpus.txt', `${CORPUS.join('\n')}\n`);
const queriesPath = writeFile('queries.txt', `${QUERIES.join('\r\n')}\r\n`);

interface Output {
  query: string;
  results: { text: string; score: number; line: number }[];
}

function outputs(result: ReturnType<typeof runCli>): Output[] {
  assert.is(result.status, 0, result.stderr);
  return result.stdout.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line));
}

/** Rows of the .npy that `encode` writes for `path`. */
function encodedRows(path: string): Float32Array[] {
  const out = `${path}.npy`;
  const result = runCli(['encode', '--model', model.dir, '--texts', path, '--out', out]);
  assert.is(result.status, 0, result.stderr);
  const { shape, data } = readNpyFile(out);
  return Array.from({ length: shape[0] }, (_, i) => data.subarray(i * shape[1], (i + 1) * shape[1]));
}

test('--help lists the flags and exits 0', () => {
  const result = runCli(['similar', '--help']);
  assert.is(result.status, 0);
  for (const flag of ['--corpus FILE', '--query TEXT', '--queries FILE', '--top-k K', '--format jsonl|table', '--batch-size N', '--model DIR', '--maxlen N', '--memory-limit SIZE']) {
    assert.ok(result.stdout.includes(flag), `help lacks ${flag}`);
  }
});

test('the top-k of each query equals a brute-force cosine ranking of the encoded corpus', () => {
  const corpusRows = encodedRows(corpusPath);
  const queryRows = encodedRows(queriesPath);
  const found = outputs(runCli(['similar', '--model', model.dir, '--corpus', corpusPath, '--queries', queriesPath, '--top-k', '4']));
  assert.equal(found.map((output) => output.query), QUERIES);
  found.forEach((output, q) => {
    const ranked = corpusRows
      .map((row, index) => ({ line: index + 1, score: cosine(queryRows[q], row) }))
      .sort((a, b) => b.score - a.score || a.line - b.line)
      .slice(0, 4);
    assert.equal(output.results.map((result) => result.line), ranked.map((result) => result.line), `query ${output.query}`);
    output.results.forEach((result, i) => {
      assert.equal(Object.keys(result), ['text', 'score', 'line']);
      assert.is(result.text, CORPUS[result.line - 1]);
      assert.ok(Math.abs(result.score - ranked[i].score) < 1e-5, `query ${q} rank ${i}: ${result.score} vs ${ranked[i].score}`);
    });
  });
  // '我好' finds itself at lines 1 and 5 with the same score, in corpus order.
  const self = found[2].results;
  assert.equal(self.slice(0, 2).map((result) => result.line), [1, 5]);
  assert.is(self[0].score, self[1].score);
  assert.ok(Math.abs(self[0].score - 1) < 1e-6);
});

test('--query with k above the corpus size returns the whole corpus, ranked; --format table reads as a table', () => {
  const [all] = outputs(runCli(['similar', '--model', model.dir, '--corpus', corpusPath, '--query', '我好', '--top-k', '50']));
  assert.is(all.query, '我好');
  assert.is(all.results.length, CORPUS.length);
  assert.equal(all.results.map((result) => result.line).sort((a, b) => a - b), CORPUS.map((_, i) => i + 1));
  for (let i = 1; i < all.results.length; i++) assert.ok(all.results[i - 1].score >= all.results[i].score);

  const table = runCli(['similar', '--model', model.dir, '--corpus', corpusPath, '--queries', queriesPath, '--top-k', '2', '--format', 'table']);
  assert.is(table.status, 0, table.stderr);
  const blocks = table.stdout.trimEnd().split('\n\n');
  assert.is(blocks.length, QUERIES.length);
  const first = blocks[2].split('\n');
  assert.is(first[0], 'query: 我好');
  assert.match(first[1], /^\s+rank\s+score\s+line\s+text$/);
  assert.match(first[2], /^\s+1\s+1\.0{6}\s+1\s+我好$/);
  assert.match(first[3], /^\s+2\s+1\.0{6}\s+5\s+我好$/);
  assert.is(first.length, 4);
});

test('errors exit non-zero with one message and print nothing', () => {
  const expect = (args: string[], status: number, pattern: RegExp) => {
    const result = runCli(['similar', ...args]);
    assert.is(result.status, status, result.stderr);
    const lines = errorLines(result);
    assert.is(lines.length, status === 2 ? 2 : 1, result.stderr);
    assert.match(lines[0], pattern);
    assert.is(result.stdout, '');
  };
  const withModel = ['--model', model.dir, '--corpus', corpusPath];
  expect(['--model', model.dir, '--query', '我'], 2, /^simbert similar: --corpus is required$/);
  expect(withModel, 2, /give exactly one of --query TEXT or --queries FILE/);
  expect([...withModel, '--query', '我', '--queries', queriesPath], 2, /give exactly one of --query TEXT or --queries FILE/);
  expect([...withModel, '--query', '我', '--top-k', '0'], 2, /--top-k must be at least 1, got 0/);
  expect([...withModel, '--query', '我', '--format', 'csv'], 2, /--format must be jsonl or table, got 'csv'/);
  expect([...withModel, '--query', '\u200b'], 2, /--query "\u200b" is empty after tokenizing/);
  expect(['--corpus', corpusPath, '--query', '我'], 2, /^simbert similar: a model needs --model DIR/);
  const missing = join(scratch, 'missing.txt');
  expect(['--model', model.dir, '--corpus', missing, '--query', '我'], 1, new RegExp(`^simbert similar: ${missing}: file: cannot read it`));
  const gap = writeFile('gap.txt', '我好\n\n你好\n');
  expect(['--model', model.dir, '--corpus', gap, '--query', '我'], 1, new RegExp(`^simbert similar: ${gap}: line 2: empty line`));
  const badQueries = writeFile('bad-queries.txt', '我好\n\u200b\n');
  expect([...withModel, '--queries', badQueries], 1, new RegExp(`^simbert similar: ${badQueries}: line 2: text .* is empty after tokenizing`));
});

test.run();
