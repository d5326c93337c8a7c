import { once } from 'node:events';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Tokenizer } from '../model/tokenizer.js';
import { DataError, type TokenCounter } from '../train/data.js';
import { encodeTexts } from '../train/encode.js';
import { writeFileAtomically, writeNpyFloat32 } from '../train/npy.js';
import { requireFlag, UsageError, type CommandSpec, type FlagSpec, type ParsedArgs } from './args.js';
import type { Command } from './command.js';
import { instantiate, loadModelFromFlags, maxlenFlag, MEMORY_FLAG, MODEL_FLAGS, openGpu } from './model-flags.js';

/** Word pieces of a text without [CLS] and [SEP]: 0 means the text is empty to the model. */
export function tokenCounter(tokenizer: Tokenizer): TokenCounter {
  return (text) => tokenizer.tokenize(text).length - 2;
}

/**
 * Reads a file of one text per line: UTF-8 (invalid bytes are an error naming the line), a
 * leading BOM stripped, LF or CRLF, empty lines allowed only at the end. A line that is empty,
 * or empty after tokenizing, is a DataError naming the file and line.
 */
export function loadTextLines(path: string, countTokens: TokenCounter): string[] {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new DataError(path, 'file', `cannot read it (${(error as Error).message})`);
  }
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const lines: string[] = [];
  for (let start = 0; start <= bytes.length;) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    let line: string;
    try {
      line = decoder.decode(bytes.subarray(start, end));
    } catch {
      throw new DataError(path, `line ${lines.length + 1}`, 'not valid UTF-8 text', lines.length + 1);
    }
    if (lines.length === 0 && line.startsWith('\uFEFF')) line = line.slice(1);
    lines.push(line.endsWith('\r') ? line.slice(0, -1) : line);
    start = end + 1;
  }
  while (lines.length > 0 && (lines[lines.length - 1] as string).trim() === '') lines.pop();
  if (lines.length === 0) throw new DataError(path, 'file', 'the file is empty; expected one text per line');
  lines.forEach((text, index) => {
    const where = `line ${index + 1}`;
    if (text.trim() === '') {
      throw new DataError(path, where, 'empty line; expected one text per line (empty lines are allowed only at the end)', index + 1);
    }
    if (countTokens(text) === 0) {
      throw new DataError(path, where, `text ${JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text)} is empty after tokenizing; every text needs at least one word piece`, index + 1);
    }
  });
  return lines;
}

/**
 * Reports encoding progress on stderr: a line rewritten in place on a terminal, otherwise a
 * line every few seconds and one at the end.
 */
export function encodingProgress(label: string): (done: number, total: number) => void {
  const started = Date.now();
  const terminal = process.stderr.isTTY === true;
  let lastReport = started;
  return (done, total) => {
    const now = Date.now();
    const finished = done >= total;
    if (!finished && now - lastReport < (terminal ? 200 : 5000)) return;
    lastReport = now;
    const seconds = (now - started) / 1000;
    const text = `${label}: ${done}/${total} texts, ${seconds.toFixed(1)} s${finished ? '' : `, ${(done / Math.max(seconds, 1e-3)).toFixed(0)} texts/s`}`;
    if (terminal) process.stderr.write(`\r${text}\x1b[K${finished ? '\n' : ''}`);
    else process.stderr.write(`${text}\n`);
  };
}

export const BATCH_SIZE_FLAG: FlagSpec = {
  name: 'batch-size', kind: 'integer', help: 'texts encoded per GPU batch', default: 64, placeholder: 'N',
};

/** --batch-size, checked to be at least 1. */
export function batchSizeFlag(args: ParsedArgs, command: string): number {
  const batchSize = args.flags['batch-size'] as number;
  if (batchSize < 1) throw new UsageError(`--batch-size must be at least 1, got ${batchSize}`, command);
  return batchSize;
}

/** --maxlen, with a usage error when it is too small. */
export function checkedMaxlen(args: ParsedArgs, command: string): number {
  try {
    return maxlenFlag(args);
  } catch (error) {
    throw new UsageError((error as Error).message, command);
  }
}

/** Fails before any work when the directory an output file goes to does not exist. */
export function checkOutputDirectory(path: string): void {
  const dir = dirname(resolve(path));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`cannot write '${path}': directory '${dir}' does not exist`);
}

/** Stops with an error naming the first text whose vector is not finite (a broken model). */
export function checkFinite(vectors: Float32Array, hidden: number, describeRow: (row: number) => string): void {
  const bad = vectors.findIndex((value) => !Number.isFinite(value));
  if (bad >= 0) {
    const row = Math.floor(bad / hidden);
    throw new Error(`the model produced a non-finite vector (${vectors[bad]}) for ${describeRow(row)}; are the weights corrupt?`);
  }
}

/** Writes JSON lines to stdout, waiting when the pipe is full. */
export async function writeStdout(text: string): Promise<void> {
  if (!process.stdout.write(text)) await once(process.stdout, 'drain');
}

const spec: CommandSpec = {
  name: 'encode',
  summary: 'encode texts into pooled sentence vectors (.npy or JSON Lines)',
  usage: 'node dist/cli encode (--model DIR | --config FILE --checkpoint PREFIX --vocab FILE) --texts FILE (--out FILE.npy | --format jsonl)',
  details: [
    'Each line of --texts is one text (UTF-8, LF or CRLF); an empty line, or a text with no word',
    'pieces, stops with the file and line. Each text is encoded alone ([CLS] text [SEP], segment 0)',
    'and its vector is the linear pooler output on [CLS], as the similarity loss and eval use it.',
    '',
    '--out FILE.npy writes a float32 array of shape [texts, hidden_size] in NumPy .npy format',
    '(np.load reads it; row i is line i). --format jsonl prints one {"text", "vector"} object per',
    'line on stdout instead, or writes them to --out FILE when given. Files are written to a',
    'temporary name and renamed, so a failed run leaves no partial file.',
  ].join('\n'),
  flags: [
    ...MODEL_FLAGS,
    { name: 'texts', kind: 'string', help: 'texts to encode, one per line', placeholder: 'FILE' },
    { name: 'out', kind: 'string', help: 'output file (.npy unless --format jsonl)', placeholder: 'FILE' },
    { name: 'format', kind: 'string', help: 'npy (needs --out) or jsonl (stdout, or --out)', placeholder: 'npy|jsonl' },
    BATCH_SIZE_FLAG,
    MEMORY_FLAG,
  ],
};

async function run(args: ParsedArgs): Promise<number> {
  const textsPath = requireFlag<string>(args, 'texts', spec.name);
  const out = args.flags.out as string | undefined;
  const format = (args.flags.format as string | undefined) ?? (out !== undefined ? 'npy' : undefined);
  if (format === undefined) {
    throw new UsageError('say where the vectors go: --out FILE.npy for a .npy file, or --format jsonl for JSON Lines on stdout', spec.name);
  }
  if (format !== 'npy' && format !== 'jsonl') throw new UsageError(`--format must be npy or jsonl, got '${format}'`, spec.name);
  if (format === 'npy' && out === undefined) throw new UsageError('--format npy needs --out FILE.npy (a binary array is not written to stdout)', spec.name);
  const batchSize = batchSizeFlag(args, spec.name);
  const maxlen = checkedMaxlen(args, spec.name);
  if (out !== undefined) checkOutputDirectory(out);

  const loaded = loadModelFromFlags(args, spec.name);
  const texts = loadTextLines(textsPath, tokenCounter(new Tokenizer(loaded.vocab)));
  await openGpu(args);
  const { model, tokenizer } = instantiate(loaded);
  const vectors = await encodeTexts(model, tokenizer, texts, { maxlen, batchSize, onProgress: encodingProgress('encoded') });
  const hidden = model.config.hiddenSize;
  checkFinite(vectors, hidden, (row) => `${textsPath}: line ${row + 1}`);

  if (format === 'npy') {
    writeNpyFloat32(out as string, vectors, [texts.length, hidden]);
    console.error(`wrote ${out}: float32 [${texts.length}, ${hidden}]`);
    return 0;
  }
  const line = (i: number) => `${JSON.stringify({ text: texts[i], vector: Array.from(vectors.subarray(i * hidden, (i + 1) * hidden)) })}\n`;
  if (out !== undefined) {
    writeFileAtomically(out, texts.map((_, i) => line(i)).join(''));
    console.error(`wrote ${out}: ${texts.length} JSON lines of ${hidden} values`);
    return 0;
  }
  for (let start = 0; start < texts.length; start += 64) {
    let chunk = '';
    for (let i = start; i < Math.min(start + 64, texts.length); i++) chunk += line(i);
    await writeStdout(chunk);
  }
  return 0;
}

export const encodeCommand: Command = { spec, run };
