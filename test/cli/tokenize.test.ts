import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readLines } from '../../src/cli/tokenize.js';
import { sharedFixture } from '../support/fixtures.js';

const cli = fileURLToPath(new URL('../../src/cli/index.js', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'simbert-tokenize-cli-'));
const vocabPath = join(scratch, 'vocab.txt');
writeFileSync(vocabPath, ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'hello', 'world', '##s', '一', '二', '三', '!'].join('\n') + '\n');

function tokenize(args: string[], input: string) {
  const result = spawnSync(process.execPath, [cli, 'tokenize', ...args], { input, encoding: 'utf8' });
  const outputs = result.stdout.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line));
  return { status: result.status, outputs, stderr: result.stderr };
}

test('one JSON line per input line: single texts, tab-separated pairs, \\r\\n and a last line without newline', () => {
  const { status, outputs, stderr } = tokenize(['--vocab', vocabPath], 'Hello worlds!\r\n一二\t三\n\n一 unknown');
  assert.is(stderr, '');
  assert.is(status, 0);
  assert.equal(outputs, [
    { tokens: ['[CLS]', 'hello', 'world', '##s', '!', '[SEP]'], ids: [2, 4, 5, 6, 10, 3], segments: [0, 0, 0, 0, 0, 0] },
    { tokens: ['[CLS]', '一', '二', '[SEP]', '三', '[SEP]'], ids: [2, 7, 8, 3, 9, 3], segments: [0, 0, 0, 0, 1, 1] },
    { tokens: ['[CLS]', '[SEP]'], ids: [2, 3], segments: [0, 0] },
    { tokens: ['[CLS]', '一', '[UNK]', '[SEP]'], ids: [2, 7, 1, 3], segments: [0, 0, 0, 0] },
  ]);
});

test('--maxlen truncates each line', () => {
  const { status, outputs } = tokenize(['--vocab', vocabPath, '--maxlen', '5'], '一二三\t一二三\nhello worlds\n');
  assert.is(status, 0);
  assert.equal(outputs.map((output) => output.tokens), [
    ['[CLS]', '一', '[SEP]', '一', '[SEP]'],
    ['[CLS]', 'hello', 'world', '##s', '[SEP]'],
  ]);
});

test('usage and input errors: exit 2 for bad flags, 1 for unreadable files and bad lines', () => {
  const noVocab = tokenize([], 'x\n');
  assert.is(noVocab.status, 2);
  assert.match(noVocab.stderr, /--vocab is required/);
  const tinyMaxlen = tokenize(['--vocab', vocabPath, '--maxlen', '1'], 'x\n');
  assert.is(tinyMaxlen.status, 2);
  assert.match(tinyMaxlen.stderr, /--maxlen must be at least 2/);
  const missing = join(scratch, 'missing.txt');
  const unreadable = tokenize(['--vocab', missing], 'x\n');
  assert.is(unreadable.status, 1);
  assert.ok(unreadable.stderr.includes(missing), unreadable.stderr);
  const threeFields = tokenize(['--vocab', vocabPath], 'hello\nhello\tworld\t1\n');
  assert.is(threeFields.status, 1);
  assert.is(threeFields.outputs.length, 1);
  assert.match(threeFields.stderr, /line 2 has 3 tab-separated fields/);
  const pairTooShort = tokenize(['--vocab', vocabPath, '--maxlen', '2'], 'hello\nhello\tworld\n');
  assert.is(pairTooShort.status, 1);
  assert.match(pairTooShort.stderr, /line 2: maxlen must be an integer of at least 3/);
});

test('readLines copes with lines and UTF-8 sequences split across chunks', async () => {
  const bytes = new TextEncoder().encode('a\r\n中文\nlast');
  const chunks = [bytes.subarray(0, 2), bytes.subarray(2, 5), bytes.subarray(5, 9), bytes.subarray(9)];
  async function* stream() {
    yield* chunks;
  }
  const lines: string[] = [];
  for await (const line of readLines(stream())) lines.push(line);
  assert.equal(lines, ['a', '中文', 'last']);
});

const zhDir = sharedFixture('vocab-zh');
(zhDir === null ? test.skip : test)('--simplified uses the simplified Chinese vocabulary', () => {
  const zhVocab = join(zhDir ?? '', 'vocab.txt');
  const full = tokenize(['--vocab', zhVocab], '你好\n');
  const simplified = tokenize(['--vocab', zhVocab, '--simplified'], '你好\n');
  assert.is(full.status, 0);
  assert.is(simplified.status, 0);
  assert.equal(full.outputs[0].ids, [101, 872, 1962, 102]);
  assert.equal(simplified.outputs[0].tokens, full.outputs[0].tokens);
  assert.equal(simplified.outputs[0].ids.slice(0, 1).concat(simplified.outputs[0].ids.slice(-1)), [2, 3]);
  assert.ok(simplified.outputs[0].ids[1] < 13584 && simplified.outputs[0].ids[1] !== 872);
});

test.run();
