import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeIds } from '../../src/generate/detokenize.js';
import { readNpyFile } from '../../src/node/npy-file.js';
import { cosine } from '../support/reference.js';
import { errorLines, runCli, writeTinyModel } from '../support/tiny-model.js';

const scratch = mkdtempSync(join(tmpdir(), 'simbert-generate-cli-'));
const model = writeTinyModel(join(scratch, 'model'), { hidden: 16, layers: 2 });
const vocabTokens = readFileSync(model.vocabPath, 'utf8').split('\n');
const TEXTS = ['你好吗', '我们去哪里', '他是谁'];
const textsPath = join(scratch, 'texts.txt');
writeFileSync(textsPath, `${TEXTS.join('\n')}\n`);

interface Output {
  text: string;
  candidates: { text: string; ids: number[]; cosine: number }[];
  seconds: number;
}

function outputs(result: ReturnType<typeof runCli>): Output[] {
  assert.is(result.status, 0, result.stderr);
  return result.stdout.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line));
}

const generate = (...args: string[]) => runCli(['generate', '--model', model.dir, '--format', 'jsonl', ...args]);

test('--help lists every flag and exits 0', () => {
  const result = runCli(['generate', '--help']);
  assert.is(result.status, 0);
  for (const flag of ['--model DIR', '--config FILE', '--checkpoint PREFIX', '--vocab FILE', '--text TEXT', '--texts FILE', '--n N', '--topk K', '--topp P',
    '--temperature T', '--maxlen N', '--min-len N', '--k K', '--seed N', '--greedy', '--beam B', '--no-repeat-ngram N', '--memory-limit SIZE', '--format text|jsonl']) {
    assert.ok(result.stdout.includes(flag), `help lacks ${flag}`);
  }
});

test('JSONL: k distinct candidates, never the input, ids that decode to their text, cosines descending and equal to encode\'s', () => {
  const [out] = outputs(generate('--text', '我们去哪里', '--n', '30', '--k', '6', '--maxlen', '8'));
  assert.equal(Object.keys(out).sort(), ['candidates', 'seconds', 'text']);
  assert.is(out.text, '我们去哪里');
  assert.ok(out.seconds > 0);
  assert.ok(out.candidates.length >= 1 && out.candidates.length <= 6);
  const texts = out.candidates.map((c) => c.text);
  assert.is(new Set(texts).size, texts.length);
  assert.not.ok(texts.includes(out.text));
  for (const c of out.candidates) {
    assert.equal(Object.keys(c).sort(), ['cosine', 'ids', 'text']);
    assert.ok(c.ids.length <= 8 && !c.ids.includes(3), `ids ${c.ids}`);
    assert.is(decodeIds(c.ids, vocabTokens), c.text);
  }
  for (let i = 1; i < out.candidates.length; i++) assert.ok(out.candidates[i - 1].cosine >= out.candidates[i].cosine);
  // An independent encoding of the input and the candidates gives the same cosines.
  const path = join(scratch, 'candidates.txt');
  writeFileSync(path, `${[out.text, ...texts].join('\n')}\n`);
  const encoded = runCli(['encode', '--model', model.dir, '--texts', path, '--out', `${path}.npy`]);
  assert.is(encoded.status, 0, encoded.stderr);
  const { shape, data } = readNpyFile(`${path}.npy`);
  const row = (i: number) => data.subarray(i * shape[1], (i + 1) * shape[1]);
  out.candidates.forEach((c, i) => assert.ok(Math.abs(c.cosine - cosine(row(0), row(i + 1))) < 1e-5, `${c.text}: ${c.cosine} vs ${cosine(row(0), row(i + 1))}`));
});

test('--texts decodes every text in one batch: one line each, in order, each as when decoded alone; the same seed repeats', () => {
  const together = outputs(generate('--texts', textsPath, '--n', '12', '--k', '4', '--maxlen', '6', '--seed', '7'));
  assert.equal(together.map((o) => o.text), TEXTS);
  const alone = outputs(generate('--text', TEXTS[1], '--n', '12', '--k', '4', '--maxlen', '6', '--seed', '7'));
  assert.equal(alone[0].candidates.map((c) => c.ids), together[1].candidates.map((c) => c.ids));
  const otherSeed = outputs(generate('--texts', textsPath, '--n', '12', '--k', '4', '--maxlen', '6', '--seed', '8'));
  assert.not.equal(otherSeed.map((o) => o.candidates.map((c) => c.ids)), together.map((o) => o.candidates.map((c) => c.ids)));
});

test('--greedy and --beam give one candidate each; text format is a ranked list with cosines', () => {
  for (const mode of [['--greedy'], ['--beam', '3']]) {
    const out = outputs(generate('--texts', textsPath, '--maxlen', '6', ...mode));
    assert.equal(out.map((o) => o.candidates.length), [1, 1, 1], mode.join(' '));
  }
  const text = runCli(['generate', '--model', model.dir, '--text', '你好吗', '--n', '8', '--k', '3', '--maxlen', '5']);
  assert.is(text.status, 0, text.stderr);
  const lines = text.stdout.trim().split('\n');
  assert.match(lines[0], /^你好吗 {2}\(\d+ candidates, [\d.]+ s\)$/);
  for (const [rank, line] of lines.slice(1).entries()) assert.match(line, new RegExp(`^ +${rank + 1} {2}-?\\d\\.\\d{4} {2}\\S*$`));
});

test('an over-long text is cut to --maxlen with a note on stderr', () => {
  const long = '我们'.repeat(20);
  const result = generate('--text', long, '--maxlen', '10', '--n', '4', '--k', '2');
  assert.is(result.status, 0, result.stderr);
  assert.match(result.stderr, /note: the text has 40 word pieces; cut to 8 \(--maxlen 10\)/);
});

for (const [name, args, message] of [
  ['an empty text', ['--text', ''], /empty after tokenizing/],
  ['--k larger than --n', ['--text', '你好', '--n', '5', '--k', '6'], /--k 6 is larger than --n 5/],
  ['--topk 0', ['--text', '你好', '--topk', '0'], /--topk must be at least 1/],
  ['--topp 0', ['--text', '你好', '--topp', '0'], /--topp must be in \(0, 1\]/],
  ['--topp 1.5', ['--text', '你好', '--topp', '1.5'], /--topp must be in \(0, 1\]/],
  ['a maxlen that passes max_position_embeddings', ['--text', '你好', '--maxlen', '61'], /4 source tokens plus --maxlen 61 generated ones pass max_position_embeddings 64/],
  ['both --text and --texts', ['--text', '你好', '--texts', textsPath], /exactly one of --text TEXT or --texts FILE/],
  ['--greedy with --beam', ['--text', '你好', '--greedy', '--beam', '2'], /at most one of --greedy and --beam/],
  ['--temperature 0', ['--text', '你好', '--temperature', '0'], /--temperature must be greater than 0/],
  ['--min-len past --maxlen', ['--text', '你好', '--min-len', '40'], /--min-len must be in \[0, --maxlen 32\]/],
  ['an unknown format', ['--text', '你好', '--format', 'csv'], /--format must be text or jsonl/],
] as [string, string[], RegExp][]) {
  test(`${name} is a usage error (exit 2)`, () => {
    const result = runCli(['generate', '--model', model.dir, ...args]);
    assert.is(result.status, 2, result.stderr);
    assert.match(errorLines(result)[0], message);
    assert.is(result.stdout, '');
  });
}

test('SIGINT stops generation promptly with status 130 and no partial line', async () => {
  const cli = fileURLToPath(new URL('../../../dist/cli/index.js', import.meta.url));
  const child = spawn(process.execPath, [cli, 'generate', '--model', model.dir, '--texts', textsPath, '--n', '400', '--k', '5', '--maxlen', '30', '--format', 'jsonl', '--topk', '30']);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  const started = new Promise<void>((resolve) => child.stderr.on('data', (chunk) => {
    stderr += chunk;
    if (stderr.includes('key/value cache')) resolve();
  }));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await started;
  const signalled = Date.now();
  child.kill('SIGINT');
  const code = await exited;
  assert.is(code, 130, stderr);
  assert.ok(Date.now() - signalled < 20000, 'took more than 20 s to stop');
  assert.ok(stdout === '' || stdout.endsWith('\n'), 'a partial line was printed');
  assert.match(stderr, /interrupted/);
});

test.run();
