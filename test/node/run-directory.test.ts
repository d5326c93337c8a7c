import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bertParameterShapes, parseBertConfig } from '../../src/model/config.js';
import { randomWeightArrays } from '../../src/model/parameters.js';
import { buildVocab } from '../../src/model/vocab.js';
import { nodeFileOps, type FileOps } from '../../src/node/file-ops.js';
import { LOCK_FILE } from '../../src/node/run-lock.js';
import { readTrainerState, RunDirectory, stableModelDir } from '../../src/node/run-directory.js';
import { PairBatcher } from '../../src/train/batches.js';
import { loadModel } from '../../src/node/load-model.js';
import type { SavedModel } from '../../src/train/run-output.js';
import type { TrainerState } from '../../src/train/trainer-state.js';

const root = mkdtempSync(join(tmpdir(), 'simbert-rundir-'));
const config = parseBertConfig({
  vocab_size: 8, hidden_size: 4, num_hidden_layers: 1, num_attention_heads: 1, intermediate_size: 8,
  max_position_embeddings: 16, type_vocab_size: 2,
}, 'test config');
const { vocab } = buildVocab(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '我', '你', '他', '们']);
const groups = [['我们', '你们'], ['他们', '我你']];

/** A small checkpoint at `step` whose every weight value is `step` (so which one loaded is visible). */
function saved(step: number, poison?: number): SavedModel {
  const arrays = randomWeightArrays(config, 1);
  const weights = new Map(bertParameterShapes(config).map(({ name, shape }) => [name, { shape, data: arrays.get(name)!.fill(step) }]));
  const m = new Map([...weights].map(([name, { data }]) => [name, new Float32Array(data.length).fill(0.5)]));
  const v = new Map([...weights].map(([name, { data }]) => [name, new Float32Array(data.length).fill(poison ?? 0.25)]));
  const batcher = new PairBatcher(groups, { batchSize: 2, seed: 1 });
  for (let i = 0; i < step; i++) batcher.next();
  const trainerState: TrainerState = {
    version: 1, step, epoch: Math.floor(step / 2), bestAccuracy: null, batcher: batcher.state(),
    options: { maxlen: 8, batchSize: 2, epochs: 3, lr: 1e-3, weightDecay: 0.01, threshold: 0.8, seed: 1, shuffle: true },
    data: { train: '/data/train.json', test: null }, optimizerStep: step, skippedSteps: 0, losses: { first: null, recent: [] },
  };
  return { config, vocab, weights, optimizer: { step, m, v }, trainerState };
}

const notes: string[] = [];
const open = (dir: string, mode: 'new' | 'replace' | 'resume', ops?: FileOps) => RunDirectory.open(dir, { mode, command: 'test', note: (n) => notes.push(n), ops });

async function loadedStep(dir: string): Promise<number> {
  const folder = stableModelDir(dir);
  const model = await loadModel({ model: folder });
  const state = readTrainerState(folder)!;
  const value = model.weights.values().next().value![0];
  assert.is(value, state.step, 'weights and trainer state come from the same checkpoint');
  return state.step;
}

/**
 * File operations whose `failAt`-th call (counting from 1; only calls of `only` when given)
 * throws `code`; `count` says how many were counted.
 */
function faultyOps(failAt: number, code = 'EIO', only?: keyof FileOps): FileOps & { count: number } {
  const ops = { count: 0 } as FileOps & { count: number };
  for (const [name, operation] of Object.entries(nodeFileOps)) {
    (ops as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      if (only === undefined || only === name) ops.count++;
      if (ops.count === failAt && (only === undefined || only === name)) {
        const error = new Error(`${String(args[args.length - 1])}: injected failure (${code})`) as NodeJS.ErrnoException;
        error.code = code;
        throw error;
      }
      return (operation as (...a: unknown[]) => unknown)(...args);
    };
  }
  return ops;
}

test('a checkpoint is a complete folder that `latest` points to, with top-level links bert4keras can load', async () => {
  const dir = join(root, 'layout');
  const run = open(dir, 'new');
  run.writeCheckpoint(saved(1));
  run.writeCheckpoint(saved(2));
  run.writeCheckpoint(saved(3));
  run.close(true);
  assert.is(await loadedStep(dir), 3);
  assert.equal(readdirSync(join(dir, 'checkpoints')).sort(), ['step-00000002', 'step-00000003'], 'the previous checkpoint stays for readers in flight');
  assert.match(readFileSync(join(dir, 'checkpoint'), 'utf8'), 'model_checkpoint_path: "checkpoints/step-00000003/bert_model.ckpt"');
  assert.is((await loadModel({ model: dir })).weights.values().next().value![0], 3, 'the top-level names read the latest checkpoint');
  assert.not.ok(existsSync(join(dir, LOCK_FILE)), 'the lock is released');
});

test('a second writer on a locked directory is refused with the holder named; a dead holder is taken over', async () => {
  const dir = join(root, 'locked');
  const first = open(dir, 'new');
  assert.throws(() => open(dir, 'replace'), new RegExp(`in use by process ${process.pid} on ${hostname()}`));
  first.close(true);
  const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: Number(dead.stdout.trim()), host: hostname(), started: '2020-01-01T00:00:00Z', command: 'train' }));
  notes.length = 0;
  open(dir, 'replace').close(true);
  assert.match(notes.join('\n'), /was left by process \d+ .* which no longer runs; taking it over/);
  // A live pid with another start time is a reused pid, not the holder.
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: process.pid, host: hostname(), started: '2020-01-01T00:00:00Z', command: 'train', processStart: '1' }));
  notes.length = 0;
  open(dir, 'replace').close(true);
  assert.match(notes.join('\n'), new RegExp(`was left by process ${process.pid} .* which no longer runs`));
});

test('an --out that is a file fails at once', async () => {
  const file = join(root, 'a-file');
  writeFileSync(file, 'x');
  assert.throws(() => open(file, 'new'), /a-file is a file, not a directory/);
});

test('a failure at every file operation of a checkpoint write leaves the last complete checkpoint loadable and the run resumable', async () => {
  // Count the operations of one checkpoint write, after those of opening the directory.
  const counting = faultyOps(0);
  const probe = open(join(root, 'probe'), 'new');
  probe.writeCheckpoint(saved(1));
  probe.close(true);
  const counted = open(join(root, 'probe'), 'resume', counting);
  const opening = counting.count;
  counted.writeCheckpoint(saved(2));
  const operations = counting.count - opening;
  counted.close(true);
  assert.ok(operations > 20, `a checkpoint write takes ${operations} operations`);
  console.log(`info: a checkpoint write takes ${operations} file operations; each is made to fail once`);
  for (let k = 1; k <= operations; k++) {
    const dir = join(root, `fault-${k}`);
    const good = open(dir, 'new');
    good.writeCheckpoint(saved(1));
    good.close(true);
    const faulty = open(dir, 'resume', faultyOps(opening + k, k % 2 === 0 ? 'ENOSPC' : 'EIO'));
    assert.throws(() => faulty.writeCheckpoint(saved(2)), /injected failure/, `operation ${k}`);
    faulty.close(false);
    const step = await loadedStep(dir);
    assert.ok(step === 1 || step === 2, `after failing operation ${k} the checkpoint of step ${step} loads`);
    const resumed = open(dir, 'resume');
    resumed.writeCheckpoint(saved(3));
    resumed.close(true);
    assert.is(await loadedStep(dir), 3, `resuming after failing operation ${k}`);
    assert.not.ok(readdirSync(join(dir, 'checkpoints')).some((entry) => entry.startsWith('.staging')), 'no staging is left');
  }
});

test('a reader never changes the directory: another writer\'s staging stays', async () => {
  const dir = join(root, 'staging');
  const run = open(dir, 'new');
  run.writeCheckpoint(saved(1));
  const staging = join(dir, 'checkpoints', `.staging-step-00000002-${process.pid}`);
  mkdirSync(staging);
  writeFileSync(join(staging, 'bert_model.ckpt.index'), 'half written');
  assert.is(await loadedStep(dir), 1);
  assert.ok(existsSync(join(staging, 'bert_model.ckpt.index')), 'the staging of a live writer is left alone');
  run.close(true);
});

test('metrics lines are appended whole: a failed append is taken back, a torn line is dropped on resume with a note', async () => {
  const dir = join(root, 'metrics');
  const run = open(dir, 'new', faultyOps(3, 'ENOSPC', 'write'));
  run.appendMetrics([{ epoch: 0, accuracy: 0.5 }]);
  assert.throws(() => run.appendMetrics([{ step: 1, epoch: 1, loss: 2 }]), /ENOSPC/);
  run.close(false);
  assert.is(readFileSync(join(dir, 'metrics.jsonl'), 'utf8'), '{"epoch":0,"accuracy":0.5}\n');
  writeFileSync(join(dir, 'metrics.jsonl'), '{"epoch":0,"accuracy":0.5}\n{"step":1,"epoch":1,"loss":2}\n{"step":2,"epoch":1,"lo');
  notes.length = 0;
  const resumed = open(dir, 'resume');
  resumed.trimMetricsTo(saved(1).trainerState!);
  resumed.close(true);
  assert.match(notes.join('\n'), /metrics\.jsonl: dropped a torn last line/);
  assert.is(readFileSync(join(dir, 'metrics.jsonl'), 'utf8'), '{"epoch":0,"accuracy":0.5}\n{"step":1,"epoch":1,"loss":2}\n');
});

test('resuming drops an epoch evaluation logged after the checkpoint being resumed', async () => {
  const dir = join(root, 'epochs');
  const run = open(dir, 'new');
  run.appendMetrics([{ epoch: 0 }, { step: 1, epoch: 1 }, { step: 2, epoch: 1 }, { epoch: 1 }, { step: 3, epoch: 2 }, { step: 4, epoch: 2 }, { epoch: 2 }]);
  run.close(true);
  const resumed = open(dir, 'resume');
  resumed.trimMetricsTo(saved(2).trainerState!);
  resumed.close(true);
  const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
  assert.equal(lines, [{ epoch: 0 }, { step: 1, epoch: 1 }, { step: 2, epoch: 1 }, { epoch: 1 }]);
});

test('a checkpoint holding a non-finite value is refused and the previous one kept', async () => {
  const dir = join(root, 'nonfinite');
  const run = open(dir, 'new');
  run.writeCheckpoint(saved(1));
  assert.throws(() => run.writeCheckpoint(saved(2, Infinity)), /refusing to write a checkpoint at step 2: .*adam_v\[0\] is Infinity/);
  run.close(true);
  assert.is(await loadedStep(dir), 1);
});

function tryMount(dir: string, options: string): boolean {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const mountPoint = join(root, 'tmpfs');
const canMount = tryMount(mountPoint, 'size=256k');
if (!canMount) console.log('skipped: real full-disk and read-only tests (mount -t tmpfs is not allowed here)');

(canMount ? test : test.skip)('on a real full disk the error names the path and the last checkpoint still loads', async () => {
  const dir = join(mountPoint, 'run');
  const run = open(dir, 'new');
  run.writeCheckpoint(saved(1));
  writeFileSync(join(mountPoint, 'filler'), new Uint8Array(0));
  let filled = false;
  for (let i = 0; !filled && i < 64; i++) {
    try {
      writeFileSync(join(mountPoint, `filler-${i}`), new Uint8Array(16 * 1024));
    } catch {
      filled = true;
    }
  }
  assert.throws(() => run.writeCheckpoint(saved(2)), (error: Error) => /ENOSPC/.test(error.message) && error.message.includes(mountPoint));
  run.close(false);
  assert.is(await loadedStep(dir), 1);
  for (const entry of readdirSync(mountPoint)) if (entry.startsWith('filler')) rmSync(join(mountPoint, entry));
  const resumed = open(dir, 'resume');
  resumed.writeCheckpoint(saved(2));
  resumed.close(true);
  assert.is(await loadedStep(dir), 2);
});

(canMount ? test : test.skip)('a read-only file system fails at once, naming the path and the cause', async () => {
  execFileSync('mount', ['-o', 'remount,ro', mountPoint]);
  try {
    assert.throws(() => open(join(mountPoint, 'run'), 'resume'), /run.*read-only file system \(EROFS\)/);
    assert.throws(() => open(join(mountPoint, 'new-run'), 'new'), /new-run.*read-only file system \(EROFS\)/);
  } finally {
    execFileSync('mount', ['-o', 'remount,rw', mountPoint]);
  }
});

test.after(() => {
  if (canMount) spawnSync('umount', [mountPoint]);
  rmSync(root, { recursive: true, force: true });
});
test.run();
