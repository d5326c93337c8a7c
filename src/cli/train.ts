import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { activeGpu } from '../autograd/engine.js';
import { formatBytes } from '../gpu/format.js';
import { randomWeightArrays } from '../model/parameters.js';
import { Tokenizer } from '../model/tokenizer.js';
import { loadTestPairs, loadTrainGroups } from '../node/data-files.js';
import { wordPieceCounter, type TestPairs } from '../train/data.js';
import { generateDemoData } from '../train/demo-data.js';
import { demoConfig, DEMO, RECIPE } from '../train/demo-recipe.js';
import { writeDemoData } from '../node/demo-files.js';
import { MODEL_FILES, type LoadedModel } from '../model/model-folder.js';
import { loadModel } from '../node/load-model.js';
import { loadVocab } from '../node/vocab-file.js';
import { readTrainerState } from '../train/model-files.js';
import { train, type TrainerState, type TrainOptions } from '../train/trainer.js';
import { UsageError, type CommandSpec, type ParsedArgs } from './args.js';
import type { Command } from './command.js';
import { instantiate, loadModelFromFlags, MEMORY_FLAG, MODEL_FLAGS, openGpu } from './model-flags.js';
import { Progress } from './progress.js';

/** Where the demo's run goes unless --out says otherwise. */
const DEMO_OUT = 'runs/demo';

const spec: CommandSpec = {
  name: 'train',
  summary: 'train a SimBERT model (without --train and --checkpoint: a small demo on generated Chinese paraphrases)',
  usage: 'node dist/cli train [--config FILE --checkpoint PREFIX --vocab FILE] [--train FILE] [--test FILE] [--out DIR] [options]',
  details: [
    'With --config/--checkpoint/--vocab (or --model DIR) and --train/--test it runs the SimBERT recipe: siamese',
    'BERT + UniLM seq2seq, AdamW, evaluation at every epoch end, checkpoints in --out that bert4keras can load.',
    'Without --train and --checkpoint it trains a tiny BERT from random initialisation on a paraphrase set this',
    `project generates (written to DIR/demo-data), with lr ${DEMO.lr}, maxlen ${DEMO.maxlen} and --out ${DEMO_OUT} unless given.`,
    '--resume DIR continues a run from its last checkpoint with the same data and options (--epochs and',
    '--max-steps may be raised).',
  ].join('\n'),
  flags: [
    ...MODEL_FLAGS.map((flag) => (flag.name === 'maxlen' ? { ...flag, default: undefined, help: `${flag.help} (default: ${RECIPE.maxlen}; demo: ${DEMO.maxlen})` } : flag)),
    { name: 'train', kind: 'string', help: 'paraphrase groups: {"key": [texts]}, [[texts]] or JSON Lines of arrays', placeholder: 'FILE' },
    { name: 'test', kind: 'string', help: 'labelled pairs: text1<TAB>text2<TAB>label (0/1, or 0..5 for graded sets)', placeholder: 'FILE' },
    { name: 'batch-size', kind: 'integer', help: 'rows per batch (two rows per group; even)', default: RECIPE.batchSize, placeholder: 'N' },
    { name: 'epochs', kind: 'integer', help: 'epochs to train', default: RECIPE.epochs, placeholder: 'N' },
    { name: 'steps-per-epoch', kind: 'integer', help: 'steps per epoch (default: sum of group sizes / batch size, as the recipe)', placeholder: 'N' },
    { name: 'lr', kind: 'number', help: `constant learning rate (default: ${RECIPE.lr}; demo: ${DEMO.lr})`, placeholder: 'LR' },
    { name: 'weight-decay', kind: 'number', help: 'AdamW weight decay rate, applied to every parameter', default: RECIPE.weightDecay, placeholder: 'RATE' },
    { name: 'dropout', kind: 'number', help: "dropout probability overriding the config's", placeholder: 'P' },
    { name: 'threshold', kind: 'number', help: 'cosine above which a test pair counts as a paraphrase', default: RECIPE.threshold, placeholder: 'T' },
    MEMORY_FLAG,
    { name: 'seed', kind: 'integer', help: 'seed of batches, dropout and random initialisation', default: RECIPE.seed, placeholder: 'N' },
    { name: 'max-steps', kind: 'integer', help: 'stop after this many steps in all (a checkpoint is written there)', placeholder: 'N' },
    { name: 'no-shuffle', kind: 'boolean', help: 'take groups in file order instead of shuffling them every epoch' },
    { name: 'out', kind: 'string', help: 'output directory for checkpoints and metrics.jsonl', placeholder: 'DIR' },
    { name: 'resume', kind: 'string', help: 'continue the run saved in DIR', placeholder: 'DIR' },
    { name: 'overwrite', kind: 'boolean', help: `replace a run already in --out (the demo's default ${DEMO_OUT} is always replaced)` },
  ],
};

function positiveInteger(args: ParsedArgs, name: string): number | undefined {
  const value = args.flags[name] as number | undefined;
  if (value !== undefined && !(Number.isInteger(value) && value >= 1)) throw new UsageError(`--${name} must be a positive integer, got ${value}`, 'train');
  return value;
}

function trainOptions(args: ParsedArgs, demo: boolean): TrainOptions {
  const lr = (args.flags.lr as number | undefined) ?? (demo ? DEMO.lr : RECIPE.lr);
  const dropout = args.flags.dropout as number | undefined;
  if (!(lr > 0)) throw new UsageError(`--lr must be positive, got ${lr}`, 'train');
  if (dropout !== undefined && !(dropout >= 0 && dropout < 1)) throw new UsageError(`--dropout must be in [0, 1), got ${dropout}`, 'train');
  const weightDecay = args.flags['weight-decay'] as number;
  if (!(weightDecay >= 0)) throw new UsageError(`--weight-decay must be >= 0, got ${weightDecay}`, 'train');
  const batchSize = positiveInteger(args, 'batch-size')!;
  if (batchSize % 2 !== 0) throw new UsageError(`--batch-size counts rows, two per group, so it must be even; got ${batchSize}`, 'train');
  const maxlen = (args.flags.maxlen as number | undefined) ?? (demo ? DEMO.maxlen : RECIPE.maxlen);
  if (!(Number.isInteger(maxlen) && maxlen >= 5)) throw new UsageError(`--maxlen must be an integer >= 5, got ${maxlen}`, 'train');
  return {
    maxlen,
    batchSize,
    epochs: positiveInteger(args, 'epochs')!,
    stepsPerEpoch: positiveInteger(args, 'steps-per-epoch'),
    lr,
    weightDecay,
    dropout,
    threshold: args.flags.threshold as number,
    seed: args.flags.seed as number,
    maxSteps: positiveInteger(args, 'max-steps'),
    shuffle: args.flags['no-shuffle'] !== true,
  };
}

/** `data` keeps absolute paths, so --resume works from any directory. */
interface Prepared {
  loaded: LoadedModel;
  trainFile: string;
  testFile: string | null;
  options: TrainOptions;
  out: string;
  data: Record<string, unknown>;
  resume?: TrainerState;
}

async function prepareResume(args: ParsedArgs): Promise<Prepared> {
  const dir = args.flags.resume as string;
  for (const name of ['config', 'checkpoint', 'vocab', 'model', 'train', 'test', 'out']) {
    if (args.flags[name] !== undefined) throw new UsageError(`--resume continues a run with its own --${name}; drop --${name}`, 'train');
  }
  const state = readTrainerState(dir) as TrainerState | null;
  if (!state) throw new Error(`${dir} has no ${MODEL_FILES.trainerState}: not a run written by train --out, or it never reached a checkpoint`);
  const options: TrainOptions = {
    ...state.options,
    epochs: positiveInteger(args, 'epochs') ?? state.options.epochs,
    maxSteps: positiveInteger(args, 'max-steps') ?? state.options.maxSteps,
  };
  const loaded = await loadModel({ model: dir });
  return { loaded, trainFile: state.data.train as string, testFile: (state.data.test as string | null) ?? null, options, out: dir, data: state.data, resume: state };
}

function prepareDemo(args: ParsedArgs, out: string): Prepared {
  const options = trainOptions(args, true);
  const data = generateDemoData(DEMO.dataSeed);
  const files = writeDemoData(join(out, 'demo-data'), data);
  const { vocab } = loadVocab(files.vocab, { simplified: true });
  const config = demoConfig(vocab.tokens.length);
  const loaded: LoadedModel = { config, vocab, weights: randomWeightArrays(config, options.seed), optimizer: null, description: 'random initialisation (demo)' };
  return { loaded, trainFile: files.train, testFile: files.test, options, out, data: { kind: 'demo', train: resolve(files.train), test: resolve(files.test) } };
}

/**
 * A directory that already holds a run is only replaced with --overwrite, or when it is the demo's
 * default directory (re-running the demo starts it afresh). Returns whether an old run is replaced.
 */
function checkOutput(out: string, args: ParsedArgs, demoDefault: boolean): boolean {
  const holdsRun = existsSync(join(out, MODEL_FILES.checkpoint + '.index')) || existsSync(join(out, 'metrics.jsonl'));
  if (holdsRun && args.flags.overwrite !== true && !demoDefault) {
    throw new Error(`${out} already holds a model or metrics; use --resume ${out} to continue it, another --out, or --overwrite`);
  }
  return holdsRun;
}

/** Removes the previous run's log and resume state, so the new run's files are not mixed with them. */
function clearPreviousRun(out: string): void {
  for (const file of ['metrics.jsonl', MODEL_FILES.trainerState]) rmSync(join(out, file), { force: true });
}

/** Drops metrics lines that a killed run wrote after the checkpoint being resumed. */
function trimMetrics(out: string, step: number): void {
  const path = join(out, 'metrics.jsonl');
  if (!existsSync(path)) return;
  const kept = readFileSync(path, 'utf8').split('\n').filter((line) => {
    if (!line.trim()) return false;
    const record = JSON.parse(line) as { step?: number; epoch?: number };
    return record.step !== undefined ? record.step <= step : true;
  });
  writeFileSync(path, kept.map((line) => `${line}\n`).join(''));
}

async function run(args: ParsedArgs): Promise<number> {
  const demo = args.flags.resume === undefined && args.flags.train === undefined && args.flags.checkpoint === undefined && args.flags.model === undefined;
  if (!demo && args.flags.resume === undefined && args.flags.train === undefined) throw new UsageError('--train is required with a pretrained model (omit both for the demo)', 'train');
  await openGpu(args);
  const progress = new Progress();
  let prepared: Prepared;
  let replacing = false;
  if (args.flags.resume !== undefined) prepared = await prepareResume(args);
  else {
    const out = (args.flags.out as string | undefined) ?? (demo ? DEMO_OUT : 'runs/simbert');
    replacing = checkOutput(out, args, demo && args.flags.out === undefined);
    if (demo) prepared = prepareDemo(args, out);
    else {
      const loaded = await loadModelFromFlags(args, spec.name);
      prepared = {
        loaded, trainFile: args.flags.train as string, testFile: (args.flags.test as string | undefined) ?? null,
        options: trainOptions(args, false), out, data: { train: resolve(args.flags.train as string), test: args.flags.test === undefined ? null : resolve(args.flags.test as string) },
      };
    }
  }
  const { loaded, options } = prepared;
  if (options.maxlen > loaded.config.maxPositionEmbeddings) {
    throw new UsageError(`--maxlen ${options.maxlen} exceeds the model's max_position_embeddings ${loaded.config.maxPositionEmbeddings}`, 'train');
  }
  const tokenizer = new Tokenizer(loaded.vocab);
  const counter = wordPieceCounter(tokenizer);
  const groups = loadTrainGroups(prepared.trainFile, counter);
  const test: TestPairs | null = prepared.testFile ? loadTestPairs(prepared.testFile, counter) : null;
  progress.print(
    `model: ${loaded.description} (${loaded.config.numHiddenLayers} layers, hidden ${loaded.config.hiddenSize}, vocabulary ${loaded.vocab.tokens.length}); ` +
      `data: ${groups.groups.length} groups (${groups.dropped} with fewer than 2 texts dropped), ${test ? `${test.pairs.length} test pairs` : 'no test file'}; out: ${prepared.out}`,
  );
  if (prepared.resume) trimMetrics(prepared.out, prepared.resume.step);
  if (replacing) clearPreviousRun(prepared.out);
  const { model } = instantiate(loaded);
  const gpu = activeGpu();
  gpu.pool.resetPeaks();
  await train({
    model, tokenizer, loaded, groups: groups.groups, test, options, out: prepared.out, data: prepared.data, resume: prepared.resume,
    events: {
      stepsPerEpoch: (steps, total) => progress.begin(steps, total),
      step: (record) => progress.step(record),
      epoch: (record) => progress.epoch(record),
      checkpoint: (dir) => progress.print(`checkpoint: ${dir}`),
    },
  });
  progress.finish();
  progress.print(`peak GPU memory: ${formatBytes(gpu.pool.snapshot().peakBytesHeld)} held of the ${formatBytes(gpu.pool.capBytes)} cap`);
  return 0;
}

export const trainCommand: Command = { spec, run };
