import { join, resolve } from 'node:path';
import { activeGpu } from '../autograd/engine.js';
import { formatBytes } from '../gpu/format.js';
import { randomWeightArrays } from '../model/parameters.js';
import { Tokenizer } from '../model/tokenizer.js';
import { loadTestPairs, loadTrainGroups } from '../node/data-files.js';
import { writeDemoData } from '../node/demo-files.js';
import { wordPieceCounter, type TestPairs } from '../train/data.js';
import { generateDemoData } from '../train/demo-data.js';
import { demoConfig, DEMO, RECIPE } from '../train/demo-recipe.js';
import type { LoadedModel } from '../model/model-folder.js';
import { loadModel } from '../node/load-model.js';
import { RunDirectory } from '../node/run-directory.js';
import { loadVocab } from '../node/vocab-file.js';
import { DivergenceError, train, type TrainerState, type TrainOptions } from '../train/trainer.js';
import { UsageError, type CommandSpec, type ParsedArgs } from './args.js';
import type { Command } from './command.js';
import { epochSamples } from './show-samples.js';
import { instantiate, loadModelFromFlags, MEMORY_FLAG, MODEL_FLAGS, openGpu } from './model-flags.js';
import { Progress } from './progress.js';
import { StopSignals } from './stop-signals.js';

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
    '--resume DIR continues a run from its last checkpoint with the same data and options (only --epochs,',
    '--max-steps, --skip-nonfinite and --memory-limit may be given again).',
    'SIGINT or SIGTERM (Ctrl-C) finishes the step in flight, checkpoints it and exits 130 / 143; a second one',
    'exits at once, keeping the previous checkpoint. A non-finite loss, or one above 10 times the median of the',
    'last 50 steps (after 20), stops the run before it is saved.',
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
    { name: 'show-samples', kind: 'integer', help: 'at each epoch end, print N paraphrases of a few training texts (also in metrics.jsonl)', default: 0, placeholder: 'N' },
    { name: 'no-shuffle', kind: 'boolean', help: 'take groups in file order instead of shuffling them every epoch' },
    { name: 'out', kind: 'string', help: 'output directory for checkpoints and metrics.jsonl', placeholder: 'DIR' },
    { name: 'resume', kind: 'string', help: 'continue the run saved in DIR', placeholder: 'DIR' },
    { name: 'skip-nonfinite', kind: 'integer', help: 'skip (without an update) up to N steps whose loss or gradient is not finite', default: 0, placeholder: 'N' },
    { name: 'overwrite', kind: 'boolean', help: `replace a run already in --out (the demo's default ${DEMO_OUT} is always replaced)` },
  ],
};

function positiveInteger(args: ParsedArgs, name: string): number | undefined {
  const value = args.flags[name] as number | undefined;
  if (value !== undefined && !(Number.isInteger(value) && value >= 1)) throw new UsageError(`--${name} must be a positive integer, got ${value}`, 'train');
  return value;
}

function skipNonfinite(args: ParsedArgs): number {
  const value = args.flags['skip-nonfinite'] as number;
  if (!(value >= 0)) throw new UsageError(`--skip-nonfinite must be >= 0, got ${value}`, 'train');
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
    skipNonfinite: skipNonfinite(args),
  };
}

/** `data` keeps absolute paths, so --resume works from any directory. */
interface Prepared {
  loaded: LoadedModel;
  trainFile: string;
  testFile: string | null;
  options: TrainOptions;
  data: TrainerState['data'];
  resume?: TrainerState;
}

/** Flags that --resume takes; every other one would change the run being continued. */
const RESUME_FLAGS = new Set(['resume', 'epochs', 'max-steps', 'skip-nonfinite', 'memory-limit']);

function checkResumeFlags(args: ParsedArgs): void {
  for (const name of args.given) {
    if (!RESUME_FLAGS.has(name)) throw new UsageError(`--resume continues a run with its own --${name}; drop --${name}`, 'train');
  }
}

async function prepareResume(args: ParsedArgs, run: RunDirectory): Promise<Prepared> {
  const { folder, state } = run.currentCheckpoint();
  const options: TrainOptions = {
    ...state.options,
    epochs: args.given.has('epochs') ? positiveInteger(args, 'epochs')! : state.options.epochs,
    maxSteps: args.given.has('max-steps') ? positiveInteger(args, 'max-steps') : state.options.maxSteps,
    skipNonfinite: args.given.has('skip-nonfinite') ? skipNonfinite(args) : state.options.skipNonfinite,
  };
  const loaded = await loadModel({ model: folder });
  return { loaded, trainFile: state.data.train, testFile: state.data.test, options, data: state.data, resume: state };
}

function prepareDemo(args: ParsedArgs, out: string): Prepared {
  const options = trainOptions(args, true);
  const data = generateDemoData(DEMO.dataSeed);
  const files = writeDemoData(join(out, 'demo-data'), data);
  const { vocab } = loadVocab(files.vocab, { simplified: true });
  const config = demoConfig(vocab.tokens.length);
  const loaded: LoadedModel = { config, vocab, weights: randomWeightArrays(config, options.seed), optimizer: null, description: 'random initialisation (demo)' };
  return { loaded, trainFile: files.train, testFile: files.test, options, data: { kind: 'demo', train: resolve(files.train), test: resolve(files.test) } };
}

async function run(args: ParsedArgs): Promise<number> {
  const resuming = args.flags.resume !== undefined;
  const demo = !resuming && args.flags.train === undefined && args.flags.checkpoint === undefined && args.flags.model === undefined;
  if (!demo && !resuming && args.flags.train === undefined) throw new UsageError('--train is required with a pretrained model (omit both for the demo)', 'train');
  if (resuming) checkResumeFlags(args);
  // Usage errors come before anything is opened or written.
  const showSamples = args.flags['show-samples'] as number;
  if (showSamples < 0) throw new UsageError(`--show-samples must be at least 0, got ${showSamples}`, 'train');
  const options = resuming ? null : trainOptions(args, demo);
  const out = resuming ? (args.flags.resume as string) : ((args.flags.out as string | undefined) ?? (demo ? DEMO_OUT : 'runs/simbert'));
  const replace = !resuming && (args.flags.overwrite === true || (demo && args.flags.out === undefined));
  const progress = new Progress();
  // The directory is locked first: an unusable --out, or one another run writes, fails before the model loads.
  const runDir = RunDirectory.open(out, { mode: resuming ? 'resume' : replace ? 'replace' : 'new', command: 'train', note: (message) => progress.print(message) });
  const signals = new StopSignals(
    (signal) => progress.print(`${signal}: stopping after the step in flight and writing a checkpoint (send it again to exit at once)`),
    (signal) => {
      runDir.abandon();
      console.error(`\n${signal} again: exiting at once; the previous checkpoint in ${out} is kept`);
    },
  );
  let succeeded = false;
  try {
    await openGpu(args);
    let prepared: Prepared;
    if (resuming) prepared = await prepareResume(args, runDir);
    else if (demo) prepared = prepareDemo(args, out);
    else {
      const loaded = await loadModelFromFlags(args, spec.name);
      prepared = {
        loaded, trainFile: args.flags.train as string, testFile: (args.flags.test as string | undefined) ?? null,
        options: options!, data: { train: resolve(args.flags.train as string), test: args.flags.test === undefined ? null : resolve(args.flags.test as string) },
      };
    }
    const { loaded } = prepared;
    if (prepared.options.maxlen > loaded.config.maxPositionEmbeddings) {
      throw new UsageError(`--maxlen ${prepared.options.maxlen} exceeds the model's max_position_embeddings ${loaded.config.maxPositionEmbeddings}`, 'train');
    }
    const tokenizer = new Tokenizer(loaded.vocab);
    const counter = wordPieceCounter(tokenizer);
    const groups = loadTrainGroups(prepared.trainFile, counter);
    const test: TestPairs | null = prepared.testFile ? loadTestPairs(prepared.testFile, counter) : null;
    progress.print(
      `model: ${loaded.description} (${loaded.config.numHiddenLayers} layers, hidden ${loaded.config.hiddenSize}, vocabulary ${loaded.vocab.tokens.length}); ` +
        `data: ${groups.groups.length} groups (${groups.dropped} with fewer than 2 texts dropped), ${test ? `${test.pairs.length} test pairs` : 'no test file'}; out: ${out}`,
    );
    if (prepared.resume) runDir.trimMetricsTo(prepared.resume);
    if (replace) runDir.clearPreviousRun();
    const { model } = instantiate(loaded);
    const gpu = activeGpu();
    gpu.pool.resetPeaks();
    let lastCheckpoint: string | null = null;
    const result = await train({
      model, tokenizer, loaded, groups: groups.groups, test, options: prepared.options, output: runDir, data: prepared.data, resume: prepared.resume,
      stopRequested: () => signals.requested !== null,
      events: {
        stepsPerEpoch: (steps, total) => progress.begin(steps, total),
        step: (record) => progress.step(record),
        epoch: (record) => progress.epoch(record),
        checkpoint: (location) => {
          lastCheckpoint = location;
          progress.print(`checkpoint: ${location}`);
        },
        afterEpoch: showSamples > 0 ? epochSamples(model, tokenizer, groups.groups, showSamples, (line) => progress.print(line)) : undefined,
      },
    }).catch((error: unknown) => {
      // A lost device or a full disk costs only the steps since the last checkpoint; a diverged run needs a lower --lr, not a resume.
      if (!(error instanceof DivergenceError) && runDir.hasCheckpoint()) {
        progress.print(`the last complete checkpoint in ${out} is kept; continue with: node dist/cli train --resume ${out}`);
      }
      throw error;
    });
    if (!result.stopped) progress.finish();
    succeeded = true;
    if (prepared.resume && result.steps === 0 && !result.stopped) {
      const { step, epoch } = result.state;
      progress.print(`${out} already finished ${step} steps (${epoch} epochs of ${prepared.options.epochs}); raise --epochs or --max-steps to train more`);
      return 0;
    }
    if (result.stopped) {
      // A new run stopped before its first step leaves nothing: the directory it created goes.
      if (result.steps === 0 && !prepared.resume) succeeded = false;
      progress.print(
        result.steps > 0 && lastCheckpoint
          ? `stopped by ${signals.requested} after step ${result.state.step}; checkpoint: ${lastCheckpoint}; continue with: node dist/cli train --resume ${out}`
          : `stopped by ${signals.requested} before its first step; nothing new was saved`,
      );
      return signals.exitCode;
    }
    progress.print(`peak GPU memory: ${formatBytes(gpu.pool.snapshot().peakBytesHeld)} held of the ${formatBytes(gpu.pool.capBytes)} cap`);
    return 0;
  } finally {
    signals.dispose();
    runDir.close(succeeded);
  }
}

export const trainCommand: Command = { spec, run };
