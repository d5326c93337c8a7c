import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readNpyFile } from '../../src/node/npy-file.js';
import { errorLines, runCli, writeTinyModel } from '../support/tiny-model.js';

const scratch = mkdtempSync(join(tmpdir(), 'simbert-encode-cli-'));
const model = writeTinyModel(join(scratch, 'model'), { hidden: 16, layers: 1 });
const TEXTS = ['我好', '你好吗', '他是谁', '我好', '怎么去天上', 'hello 你们', '大 小'];
const textsPath = join(scratch, 'texts.txt');
// A BOM, CRLF line ends and a final newline: none of them is part of a text.
writeFileSync(textsPath, `\uFEFF${TEXTS.join('\r\n')}\r\n`);

/** A fresh empty directory, so a test can see every file a command leaves behind. */
function freshDir(name: string): string {
  const dir = join(scratch, name);
  mkdirSync(dir);
  return dir;
}

function jsonl(stdout: string): { text: string; vector: number[] }[] {
  return stdout.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line));
}

/** A failure: the exit status, one message line naming `mention`, nothing on stdout. */
function expectFailure(result: ReturnType<typeof runCli>, status: number, mention: string, pattern: RegExp): void {
  assert.is(result.status, status, result.stderr);
  const lines = errorLines(result);
  assert.ok(lines[0]?.startsWith('simbert encode: '), result.stderr);
  assert.ok(lines[0]?.includes(mention), `'${mention}' not in: ${lines[0]}`);
  assert.match(lines[0] ?? '', pattern);
  assert.is(lines.length, status === 2 ? 2 : 1, result.stderr);
  assert.is(result.stdout, '');
}

test('--help lists the flags and exits 0', () => {
  const result = runCli(['encode', '--help']);
  assert.is(result.status, 0);
  for (const flag of ['--texts FILE', '--out FILE', '--format', '--batch-size N', '--model DIR', '--config FILE', '--checkpoint PREFIX', '--vocab FILE', '--maxlen N', '--memory-limit SIZE']) {
    assert.ok(result.stdout.includes(flag), `help lacks ${flag}`);
  }
});

test('--out writes a float32 [n, hidden] .npy whose rows equal the --format jsonl vectors', () => {
  const dir = freshDir('npy');
  const out = join(dir, 'vectors.npy');
  const written = runCli(['encode', '--model', model.dir, '--texts', textsPath, '--out', out]);
  assert.is(written.status, 0, written.stderr);
  assert.is(written.stdout, '');
  assert.equal(readdirSync(dir), ['vectors.npy'], 'no temporary file is left');

  const bytes = readFileSync(out);
  assert.equal([...bytes.subarray(0, 8)], [0x93, ...Buffer.from('NUMPY'), 1, 0]);
  const headerLength = bytes.readUInt16LE(8);
  assert.is((10 + headerLength) % 64, 0);
  const header = bytes.subarray(10, 10 + headerLength).toString('latin1');
  assert.is(header, `${"{'descr': '<f4', 'fortran_order': False, 'shape': (7, 16), }".padEnd(headerLength - 1)}\n`);
  const array = readNpyFile(out);
  assert.equal(array.shape, [TEXTS.length, 16]);

  const printed = runCli(['encode', '--model', model.dir, '--texts', textsPath, '--format', 'jsonl']);
  assert.is(printed.status, 0, printed.stderr);
  const records = jsonl(printed.stdout);
  assert.equal(records.map((record) => record.text), TEXTS);
  records.forEach((record, row) => {
    assert.equal(Object.keys(record), ['text', 'vector']);
    assert.equal(record.vector, [...array.data.subarray(row * 16, (row + 1) * 16)], `row ${row}`);
  });
  // The same text gives the same vector; different texts different ones.
  assert.equal(records[3].vector, records[0].vector);
  assert.not.equal(records[1].vector, records[0].vector);
});

test('--config/--checkpoint/--vocab, --batch-size and --format jsonl --out give the same vectors', () => {
  const dir = freshDir('variants');
  const reference = readNpyFile(join(scratch, 'npy', 'vectors.npy')).data;
  const fromFiles = join(dir, 'files.npy');
  const files = runCli(['encode', '--config', model.configPath, '--checkpoint', model.checkpointPrefix, '--vocab', model.vocabPath, '--texts', textsPath, '--out', fromFiles, '--batch-size', '3']);
  assert.is(files.status, 0, files.stderr);
  const vectors = readNpyFile(fromFiles).data;
  vectors.forEach((value, i) => assert.ok(Math.abs(value - reference[i]) <= 1e-5 * Math.max(1, Math.abs(value)), `value ${i}: ${value} vs ${reference[i]}`));

  const jsonlPath = join(dir, 'vectors.jsonl');
  const toFile = runCli(['encode', '--model', model.dir, '--texts', textsPath, '--format', 'jsonl', '--out', jsonlPath]);
  assert.is(toFile.status, 0, toFile.stderr);
  assert.is(toFile.stdout, '');
  assert.equal(jsonl(readFileSync(jsonlPath, 'utf8')).map((record) => record.text), TEXTS);
  assert.equal(readdirSync(dir).sort(), ['files.npy', 'vectors.jsonl']);
});

test('usage errors exit 2 before any work: no destination, a bad --format, --batch-size 0, an unknown flag', () => {
  const base = ['encode', '--model', model.dir, '--texts', textsPath];
  expectFailure(runCli(base), 2, '--out FILE.npy', /--format jsonl/);
  expectFailure(runCli([...base, '--format', 'csv']), 2, '--format', /npy or jsonl, got 'csv'/);
  expectFailure(runCli([...base, '--format', 'npy']), 2, '--format npy needs --out', /stdout/);
  expectFailure(runCli([...base, '--format', 'jsonl', '--batch-size', '0']), 2, '--batch-size', /at least 1/);
  expectFailure(runCli([...base, '--format', 'jsonl', '--maxlen', '2']), 2, '--maxlen', /at least 3/);
  expectFailure(runCli(['encode', '--model', model.dir, '--format', 'jsonl']), 2, '--texts', /required/);
  expectFailure(runCli([...base, '--format', 'jsonl', '--outt', 'x']), 2, '--outt', /unknown option/);
});

test('input errors exit 1 with one line naming the file and line, and write nothing', () => {
  const dir = freshDir('errors');
  const out = join(dir, 'vectors.npy');
  const write = (name: string, text: string) => {
    const path = join(scratch, name);
    writeFileSync(path, text);
    return path;
  };
  const encode = (texts: string, ...extra: string[]) => runCli(['encode', '--model', model.dir, '--texts', texts, '--out', out, ...extra]);

  expectFailure(runCli(['encode', '--texts', textsPath, '--out', out]), 2, 'a model needs --model DIR', /missing: --config, --checkpoint, --vocab/);
  expectFailure(runCli(['encode', '--model', join(scratch, 'nope'), '--texts', textsPath, '--out', out]), 1, join(scratch, 'nope'), /does not exist/);
  const missing = join(scratch, 'missing.txt');
  expectFailure(encode(missing), 1, missing, /cannot read it/);
  const emptyLine = write('empty-line.txt', '我好\n\n你好\n');
  expectFailure(encode(emptyLine), 1, `${emptyLine}: line 2: empty line`, /one text per line/);
  // U+200B is no whitespace to String.trim, but the tokenizer drops it (a format character).
  const noPieces = write('no-pieces.txt', '我好\n你好\n\u200b\u200b\n');
  expectFailure(encode(noPieces), 1, `${noPieces}: line 3: text`, /empty after tokenizing/);
  const empty = write('empty.txt', '\n\n');
  expectFailure(encode(empty), 1, `${empty}: file: the file is empty`, /one text per line/);
  const badUtf8 = join(scratch, 'bad-utf8.txt');
  writeFileSync(badUtf8, Buffer.concat([Buffer.from('我好\n'), Buffer.from([0xe6, 0x88, 0x0a])]));
  expectFailure(encode(badUtf8), 1, `${badUtf8}: line 2`, /not valid UTF-8/);
  expectFailure(runCli(['encode', '--model', model.dir, '--texts', textsPath, '--out', join(dir, 'sub', 'v.npy')]), 1, join(dir, 'sub'), /does not exist/);

  // The GPU pool's cap: the model does not fit, and the .npy is not written.
  const tooSmall = encode(textsPath, '--memory-limit', '1KiB');
  assert.is(tooSmall.status, 1);
  const lines = errorLines(tooSmall);
  assert.is(lines.length, 1, tooSmall.stderr);
  assert.match(lines[0], /^simbert encode: GPU memory limit exceeded/);
  assert.equal(readdirSync(dir), []);
  assert.not.ok(existsSync(out));
});

test('--maxlen beyond the model\'s positions is refused up front, naming the flag; the default fits the model', () => {
  const long = join(scratch, 'long.txt');
  writeFileSync(long, `${'我'.repeat(100)}\n`);
  expectFailure(runCli(['encode', '--model', model.dir, '--texts', textsPath, '--maxlen', '100', '--format', 'jsonl']), 2, '--maxlen 100', /max_position_embeddings 64; give --maxlen 64 or less/);
  const fitted = runCli(['encode', '--model', model.dir, '--texts', long, '--format', 'jsonl']);
  assert.is(fitted.status, 0, fitted.stderr);
});

test('SIGTERM while encoding exits 143 at once and leaves no file behind', async () => {
  const many = join(scratch, 'many.txt');
  writeFileSync(many, Array.from({ length: 20000 }, (_, i) => `${TEXTS[i % TEXTS.length]}${i}`).join('\n'));
  const dir = freshDir('interrupted');
  const entry = fileURLToPath(new URL('../../../dist/cli/index.js', import.meta.url));
  const child = spawn(process.execPath, [entry, 'encode', '--model', model.dir, '--texts', many, '--out', join(dir, 'vectors.npy')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve) => child.stderr!.on('data', (chunk) => {
    stderr += chunk;
    if (stderr.includes('adapter:')) resolve();
  }));
  child.kill('SIGTERM');
  assert.is(await exited, 143, stderr);
  assert.equal(readdirSync(dir), [], 'no output and no temporary file');
});

test.run();
