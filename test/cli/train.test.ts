import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadVocab } from '../../src/node/vocab-file.js';
import { generateDemoData } from '../../src/train/demo-data.js';
import { sharedFixture } from '../support/fixtures.js';
import { errorLines, runCli, writeTinyModel } from '../support/tiny-model.js';

const lcqmc = sharedFixture('lcqmc-dev');
const vocabZh = sharedFixture('vocab-zh');

const root = mkdtempSync(join(tmpdir(), 'simbert-train-'));
const demo = generateDemoData(7);
const demoChars = [...new Set(demo.groups.flat().join('') + demo.testPairs.map((p) => p.a + p.b).join(''))].sort();
const model = writeTinyModel(join(root, 'model'), { hidden: 16, layers: 1, heads: 2, tokens: demoChars });
const trainFile = join(root, 'train.json');
writeFileSync(trainFile, JSON.stringify(Object.fromEntries(demo.groups.slice(0, 40).map((g, i) => [`g${i}`, g]))));
const testFile = join(root, 'test.txt');
writeFileSync(testFile, demo.testPairs.slice(0, 40).map((p) => `${p.a}\t${p.b}\t${p.label}\n`).join(''));

interface Metrics {
  steps: { step: number; loss: number; seq2seq_loss: number; similarity_loss: number; epoch: number; seconds: number; rows_per_second: number; lr: number }[];
  epochs: { epoch: number; accuracy: number; best_accuracy: number | null; auc: number }[];
}

function readMetrics(dir: string): Metrics {
  const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
  return { steps: lines.filter((l) => 'step' in l), epochs: lines.filter((l) => !('step' in l)) };
}

const common = ['--model', model.dir, '--train', trainFile, '--test', testFile, '--batch-size', '8', '--maxlen', '40', '--lr', '1e-3', '--seed', '5'];

function trainArgs(out: string, ...extra: string[]): string[] {
  return ['train', ...common, '--steps-per-epoch', '4', '--epochs', '3', '--out', out, ...extra];
}

test('train --help lists every flag of the recipe', () => {
  const result = runCli(['train', '--help']);
  assert.is(result.status, 0);
  for (const flag of ['config', 'checkpoint', 'vocab', 'train', 'test', 'maxlen', 'batch-size', 'epochs', 'steps-per-epoch', 'lr', 'weight-decay', 'dropout', 'threshold', 'memory-limit', 'seed', 'max-steps', 'no-shuffle', 'out', 'resume']) {
    assert.match(result.stdout, `--${flag}`);
  }
});

test('a run logs every step and epoch to metrics.jsonl and checkpoints a loadable model', () => {
  const out = join(root, 'full');
  const result = runCli(trainArgs(out));
  assert.is(result.status, 0, result.stderr);
  const metrics = readMetrics(out);
  assert.equal(metrics.steps.map((s) => s.step), [...Array(12).keys()].map((i) => i + 1));
  assert.equal(metrics.steps.map((s) => s.epoch), [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
  for (const s of metrics.steps) {
    assert.ok(Math.abs(s.loss - (s.seq2seq_loss + s.similarity_loss)) < 1e-4, `step ${s.step}: loss is the sum of its parts`);
    assert.ok(s.seconds > 0 && s.rows_per_second > 0 && s.lr === 1e-3);
  }
  assert.equal(metrics.epochs.map((e) => e.epoch), [0, 1, 2, 3]);
  for (const key of ['epoch', 'accuracy', 'threshold', 'best_threshold', 'best_threshold_accuracy', 'auc', 'spearman', 'best_accuracy']) {
    assert.ok(key in metrics.epochs[1], `epoch record has ${key}`);
  }
  assert.is(metrics.epochs[3].best_accuracy, Math.max(...metrics.epochs.slice(1).map((e) => e.accuracy)));
  for (const file of ['bert_config.json', 'vocab.txt', 'bert_model.ckpt.index', 'bert_model.ckpt.data-00000-of-00001', 'trainer-state.json']) {
    assert.ok(existsSync(join(out, file)), file);
  }
  assert.match(result.stderr, /peak GPU memory: .* held of the 4.00 GiB cap/);
  const evaluated = runCli(['eval', '--model', out, '--test', testFile, '--maxlen', '40']);
  assert.is(evaluated.status, 0, evaluated.stderr);
  assert.ok(Math.abs(JSON.parse(evaluated.stdout).accuracy - metrics.epochs[3].accuracy) < 1e-9, 'eval of the checkpoint gives the last epoch accuracy');
});

test('stopping with --max-steps and resuming gives the same losses as an uninterrupted run', () => {
  const full = readMetrics(join(root, 'full')).steps;
  const out = join(root, 'stopped');
  const first = runCli(trainArgs(out, '--max-steps', '6'));
  assert.is(first.status, 0, first.stderr);
  assert.is(readMetrics(out).steps.length, 6);
  const resumed = runCli(['train', '--resume', out, '--max-steps', '12']);
  assert.is(resumed.status, 0, resumed.stderr);
  const steps = readMetrics(out).steps;
  assert.equal(steps.map((s) => s.step), full.map((s) => s.step));
  steps.forEach((s, i) => assert.is(s.loss, full[i].loss, `step ${s.step}`));
});

test('a run killed after a checkpoint resumes to the same losses', async () => {
  const full = readMetrics(join(root, 'full')).steps;
  const out = join(root, 'killed');
  const entry = fileURLToPath(new URL('../../../dist/cli/index.js', import.meta.url));
  const child = spawn(process.execPath, [entry, ...trainArgs(out)], { stdio: 'ignore' });
  const state = join(out, 'trainer-state.json');
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (existsSync(state)) {
        clearInterval(timer);
        child.kill('SIGKILL');
      }
    }, 5);
    // Resolve on exit only: until then the killed child is a zombie, whose lock still counts as held.
    child.on('exit', () => {
      clearInterval(timer);
      resolve();
    });
    setTimeout(() => reject(new Error('no checkpoint appeared')), 60000);
  });
  const resumed = runCli(['train', '--resume', out]);
  assert.is(resumed.status, 0, resumed.stderr);
  const steps = readMetrics(out).steps;
  assert.equal(steps.map((s) => s.step), full.map((s) => s.step));
  steps.forEach((s, i) => assert.is(s.loss, full[i].loss, `step ${s.step}`));
});

/** Starts `train ARGS` in the background; resolves with its exit code and stderr. */
function startTrain(args: string[]): { child: ReturnType<typeof spawn>; done: Promise<{ code: number | null; stderr: string }> } {
  const entry = fileURLToPath(new URL('../../../dist/cli/index.js', import.meta.url));
  const child = spawn(process.execPath, [entry, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
  return { child, done };
}

async function waitFor(path: string): Promise<void> {
  for (let waited = 0; !existsSync(path); waited += 10) {
    if (waited > 60000) throw new Error(`${path} did not appear`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('SIGTERM checkpoints the step in flight and exits 143; a second trainer is refused meanwhile; a bare --resume finishes the saved 40 epochs', async () => {
  const full = readMetrics(join(root, 'full')).steps;
  const out = join(root, 'signalled');
  // 40 epochs of 4 steps: long enough to be running while the second trainer starts and the signal comes.
  const { child, done } = startTrain(trainArgs(out, '--epochs', '40'));
  await waitFor(join(out, 'trainer-state.json'));
  const second = runCli(trainArgs(out, '--overwrite'));
  assert.is(second.status, 1, second.stderr);
  assert.match(second.stderr, new RegExp(`signalled is in use by process ${child.pid} on .*\\(train, started`));
  child.kill('SIGTERM');
  const { code, stderr } = await done;
  assert.is(code, 143, stderr);
  const stopped = /stopped by SIGTERM after step (\d+); checkpoint: (\S+); continue with: node dist\/cli train --resume (\S+)/.exec(stderr);
  assert.ok(stopped, stderr);
  const state = JSON.parse(readFileSync(join(out, 'trainer-state.json'), 'utf8'));
  assert.is(state.step, Number(stopped![1]), 'the checkpoint holds the last step taken');
  assert.is(readMetrics(out).steps.length, state.step);
  const resumed = runCli(['train', '--resume', out]);
  assert.is(resumed.status, 0, resumed.stderr);
  const { steps, epochs } = readMetrics(out);
  assert.equal(steps.map((s) => s.step), [...Array(160).keys()].map((i) => i + 1), 'the 40 saved epochs, each step once');
  assert.equal(epochs.map((e) => e.epoch), [...Array(41).keys()]);
  full.forEach((s, i) => assert.is(steps[i].loss, s.loss, `step ${s.step}`));
});

test('a bare --resume of a finished run trains nothing more; --resume refuses options that would change the run', () => {
  const out = join(root, 'one-epoch');
  assert.is(runCli(['train', ...common, '--steps-per-epoch', '2', '--epochs', '1', '--out', out]).status, 0);
  const before = readFileSync(join(out, 'metrics.jsonl'), 'utf8');
  const again = runCli(['train', '--resume', out]);
  assert.is(again.status, 0, again.stderr);
  assert.match(again.stderr, /already finished 2 steps \(1 epochs of 1\); raise --epochs or --max-steps/);
  assert.is(readFileSync(join(out, 'metrics.jsonl'), 'utf8'), before);
  for (const flag of [['--lr', '0.1'], ['--batch-size', '4'], ['--seed', '9']]) {
    const refused = runCli(['train', '--resume', out, ...flag]);
    assert.is(refused.status, 2, `${flag[0]}: ${refused.stderr}`);
    assert.match(refused.stderr, `--resume continues a run with its own ${flag[0]}; drop ${flag[0]}`);
  }
});

test('an exploding loss stops the run with the step named and nothing diverged saved; --skip-nonfinite skips at most N steps', () => {
  const out = join(root, 'diverged');
  const result = runCli(trainArgs(out, '--lr', '3'));
  assert.is(result.status, 1);
  assert.match(errorLines(result).pop()!, /^simbert train: step \d+ diverged: the loss .* is more than 10 times .*Lower --lr/);
  assert.not.ok(existsSync(join(out, 'checkpoints')), 'no checkpoint of a diverged run');
  const skipping = runCli(trainArgs(join(root, 'skipping'), '--lr', '1e4', '--skip-nonfinite', '2'));
  assert.is(skipping.status, 1);
  assert.match(skipping.stderr, /step \d+ diverged: 3 steps had a non-finite loss or gradient, more than --skip-nonfinite 2 allows/);
});

test('an --out that is a file fails before the GPU or the model is touched', () => {
  const file = join(root, 'not-a-dir');
  writeFileSync(file, '');
  const result = runCli(trainArgs(file));
  assert.is(result.status, 1);
  assert.equal(errorLines(result), [`simbert train: ${file} is a file, not a directory`]);
  assert.not.match(result.stderr, /adapter:/);
});

function expectDataError(name: string, trainText: string | null, testText: string | null, pattern: RegExp): void {
  test(`bad input stops before training: ${name}`, () => {
    const dir = mkdtempSync(join(root, 'bad-'));
    const train = join(dir, 'train.json');
    const testPath = join(dir, 'test.txt');
    writeFileSync(train, trainText ?? readFileSync(trainFile, 'utf8'));
    writeFileSync(testPath, testText ?? readFileSync(testFile, 'utf8'));
    const out = join(dir, 'out');
    const result = runCli(['train', '--model', model.dir, '--train', train, '--test', testPath, '--out', out, '--batch-size', '8', '--maxlen', '40']);
    assert.is(result.status, 1, result.stderr);
    const errors = errorLines(result);
    assert.is(errors.length, 1, errors.join('\n'));
    assert.match(errors[0], pattern);
    assert.not.ok(existsSync(out), 'nothing written');
  });
}

expectDataError('invalid JSON', '{"a": ["我们", "你们"],\n "b": ["他们" "她们"]}', null, /train\.json: line 2, column \d+/);
expectDataError('a non-string text', '{"a": ["我们", 3]}', null, /train\.json: key "a".*text 2.*string/);
expectDataError('an empty train file', '', null, /train\.json/);
expectDataError('a text empty after tokenizing', '{"a": ["我们", "\u200b"]}', null, /train\.json: key "a"/);
expectDataError('a missing column', null, '我们\t你们\t1\n他们\t0\n', /test\.txt: line 2/);
expectDataError('an unknown label', null, '我们\t你们\t1\n他们\t她们\tyes\n', /test\.txt: line 2/);

test('a memory limit too small fails at once with the pool message and writes nothing', () => {
  const out = join(root, 'tiny-limit');
  const result = runCli(trainArgs(out, '--memory-limit', '16KiB'));
  assert.is(result.status, 1);
  assert.match(result.stderr, /GPU memory limit exceeded: .* of the 16.0 KiB cap/);
  assert.not.ok(existsSync(out), 'nothing written');
});

test('an existing run directory is not overwritten by accident', () => {
  const result = runCli(trainArgs(join(root, 'full')));
  assert.is(result.status, 1);
  assert.match(result.stderr, /already holds a model or metrics; use --resume/);
});

test('--overwrite starts a fresh log instead of appending to the old run', () => {
  const out = join(root, 'replaced');
  assert.is(runCli(trainArgs(out, '--max-steps', '2')).status, 0);
  const again = runCli(trainArgs(out, '--max-steps', '3', '--overwrite'));
  assert.is(again.status, 0, again.stderr);
  const metrics = readMetrics(out);
  assert.equal(metrics.steps.map((s) => s.step), [1, 2, 3]);
  assert.equal(metrics.epochs.map((e) => e.epoch), [0]);
});

(lcqmc && vocabZh ? test : test.skip)('end to end on LCQMC paraphrase groups: the loss falls over 50 steps', () => {
  const { vocab } = loadVocab(join(vocabZh!, 'vocab.txt'), { simplified: true });
  const real = writeTinyModel(join(root, 'zh-model'), { hidden: 32, layers: 2, heads: 2, tokens: vocab.tokens.slice(4), initializerRange: 0.02 });
  const dev = join(root, 'lcqmc-dev.txt');
  writeFileSync(dev, readFileSync(join(lcqmc!, 'dev.txt'), 'utf8').split('\n').slice(0, 200).join('\n'));
  const out = join(root, 'lcqmc');
  const result = runCli([
    'train', '--model', real.dir, '--train', join(lcqmc!, 'groups.jsonl'), '--test', dev, '--out', out,
    '--batch-size', '16', '--maxlen', '48', '--lr', '1e-3', '--max-steps', '50', '--steps-per-epoch', '25', '--epochs', '2',
  ]);
  assert.is(result.status, 0, result.stderr);
  const { steps, epochs } = readMetrics(out);
  assert.is(steps.length, 50);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const early = mean(steps.slice(0, 5).map((s) => s.loss));
  const late = mean(steps.slice(-5).map((s) => s.loss));
  console.log(`info: LCQMC loss ${early.toFixed(3)} -> ${late.toFixed(3)}; accuracy by epoch ${epochs.map((e) => e.accuracy.toFixed(3)).join(', ')}`);
  assert.ok(late < early * 0.9, `loss fell from ${early} to ${late}`);
});

test.after(() => rmSync(root, { recursive: true, force: true }));
test.run();
