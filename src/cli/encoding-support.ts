import { once } from 'node:events';
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError, type FlagSpec, type ParsedArgs } from './args.js';

/** Pieces shared by the commands that encode texts: eval, encode and similar. */

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
