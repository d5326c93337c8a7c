/**
 * Loading a model from a FileFolder: a folder as `train --out` writes it or a TensorFlow BERT
 * folder (bert_config.json, vocab.txt, bert_model.ckpt.index, bert_model.ckpt.data-*), or the
 * three files of a pretrained Google/HFL checkpoint named one by one. Where the folder is (a
 * directory, a base URL, picked Files) is the FileFolder's business.
 */
import type { AdamWState } from '../autograd/adamw.js';
import type { FileFolder } from '../formats/folder.js';
import { bytesShard, CheckpointReader, parseCheckpointIndex } from './checkpoint/bundle-reader.js';
import { CheckpointError } from './checkpoint/errors.js';
import { dataShardFileName, indexFileName } from './checkpoint/paths.js';
import { parseBertConfigBytes, type BertConfig } from './config.js';
import { loadWeightArrays } from './load.js';
import { buildVocab, parseVocab, vocabTokensFromBytes, type Vocab } from './vocab.js';

/** The files of a model folder as `train --out` writes it (what bert4keras loads, plus trainer-state.json for --resume). */
export const MODEL_FILES = {
  config: 'bert_config.json',
  vocab: 'vocab.txt',
  checkpoint: 'bert_model.ckpt',
  trainerState: 'trainer-state.json',
} as const;

export interface LoadedModel {
  /** vocabSize is the (simplified) vocabulary's size. */
  config: BertConfig;
  vocab: Vocab;
  weights: Map<string, Float32Array>;
  /** Adam moments saved beside the weights, when asked for and the checkpoint has them. */
  optimizer: AdamWState | null;
  description: string;
}

export interface FolderLoadOptions {
  /** Initialise a missing pooler or MLM head instead of failing. */
  allowMissing?: boolean;
  /** Also read the Adam moments saved beside the weights (to resume training). */
  withOptimizer?: boolean;
  warn?: (message: string) => void;
  /**
   * Opens a checkpoint of a folder; by default its shards are read whole (openFolderCheckpoint).
   * Node passes one that reads tensors from the files by offset instead.
   */
  openCheckpoint?: (folder: FileFolder, prefixName: string) => Promise<CheckpointReader>;
}

/** A file of a folder: `name` inside `folder`. */
export interface FileInFolder {
  folder: FileFolder;
  name: string;
}

/** Names of the Adam moments saved beside a weight `W`: `W/adam_m`, `W/adam_v` (as Google's checkpoints have them). */
export const ADAM_SLOTS = { m: 'adam_m', v: 'adam_v' } as const;

/**
 * Opens the checkpoint `prefixName` (e.g. bert_model.ckpt) of a folder: its index and every data
 * shard the folder holds are read whole; a shard it lacks is reported when a tensor needs it.
 */
export async function openFolderCheckpoint(folder: FileFolder, prefixName: string): Promise<CheckpointReader> {
  const indexName = indexFileName(prefixName);
  if (!(await folder.has(indexName))) {
    throw new CheckpointError(`${folder.describe(indexName)}: no such file (give the checkpoint prefix, e.g. dir/bert_model.ckpt for dir/bert_model.ckpt.index)`);
  }
  const index = parseCheckpointIndex(folder.describe(prefixName), await folder.read(indexName));
  const shards = await Promise.all(index.dataFiles.map(async (_, shard) => {
    const name = dataShardFileName(prefixName, shard, index.header.numShards);
    return (await folder.has(name)) ? bytesShard(await folder.read(name)) : null;
  }));
  return new CheckpointReader(index, shards);
}

async function readConfig(file: FileInFolder): Promise<BertConfig> {
  return parseBertConfigBytes(await file.folder.read(file.name), file.folder.describe(file.name));
}

/** A trainer state is a few MB at most (the batcher's order of a million groups); more is not one. */
const MAX_TRAINER_STATE_BYTES = 256 * 1024 * 1024;

/** The optimizer step saved in trainer-state.json, 0 when the folder has none. */
async function savedOptimizerStep(folder: FileFolder): Promise<number> {
  if (!(await folder.has(MODEL_FILES.trainerState))) return 0;
  return optimizerStepOfState(await folder.read(MODEL_FILES.trainerState), folder.describe(MODEL_FILES.trainerState));
}

/**
 * The `optimizerStep` of trainer-state.json's bytes (`path` names it in messages). The Adam
 * moments' bias correction depends on it, so a damaged value is an error, not a silent restart
 * from 0. (The trainer's own parser, src/train/trainer-state.ts, checks the rest of the file.)
 */
export function optimizerStepOfState(bytes: Uint8Array, path: string): number {
  if (bytes.length > MAX_TRAINER_STATE_BYTES) throw new Error(`${path}: ${bytes.length} bytes is too large for a trainer state (at most ${MAX_TRAINER_STATE_BYTES})`);
  let state: unknown;
  try {
    state = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    throw new Error(`${path}: not valid JSON (${(error as Error).message})`);
  }
  const step = (state as { optimizerStep?: unknown } | null)?.optimizerStep;
  if (typeof step !== 'number' || !Number.isSafeInteger(step) || step < 0) {
    throw new Error(`${path}: "optimizerStep" must be an integer >= 0, got ${JSON.stringify(step) ?? 'nothing'}`);
  }
  return step;
}

function readOptimizer(reader: CheckpointReader, names: Iterable<string>, step: number): AdamWState | null {
  const m = new Map<string, Float32Array>();
  const v = new Map<string, Float32Array>();
  for (const name of names) {
    if (reader.get(`${name}/${ADAM_SLOTS.m}`)) m.set(name, reader.readFloat32(`${name}/${ADAM_SLOTS.m}`));
    if (reader.get(`${name}/${ADAM_SLOTS.v}`)) v.set(name, reader.readFloat32(`${name}/${ADAM_SLOTS.v}`));
  }
  return m.size > 0 ? { step, m, v } : null;
}

/** Loads a model folder written by `train --out` (its vocabulary is used as it is). */
export async function loadModelFolder(folder: FileFolder, options: FolderLoadOptions = {}): Promise<LoadedModel> {
  const configFile = { folder, name: MODEL_FILES.config };
  const config = await readConfig(configFile);
  const { vocab } = parseVocab(await folder.read(MODEL_FILES.vocab), folder.describe(MODEL_FILES.vocab));
  if (vocab.tokens.length !== config.vocabSize) {
    throw new Error(`${folder.describe(MODEL_FILES.vocab)} has ${vocab.tokens.length} tokens but ${folder.describe(MODEL_FILES.config)} says vocab_size ${config.vocabSize}`);
  }
  const reader = await (options.openCheckpoint ?? openFolderCheckpoint)(folder, MODEL_FILES.checkpoint);
  try {
    const weights = loadWeightArrays(reader, config, { allowMissing: options.allowMissing, warn: options.warn });
    const optimizer = options.withOptimizer ? readOptimizer(reader, weights.keys(), await savedOptimizerStep(folder)) : null;
    return { config, vocab, weights, optimizer, description: folder.location };
  } finally {
    reader.close();
  }
}

/**
 * Loads a pretrained Google/HFL checkpoint from its three files, simplifying the vocabulary as
 * the recipe does and gathering the embedding rows by keep_tokens.
 */
export async function loadPretrainedModel(
  files: { config: FileInFolder; checkpoint: FileInFolder; vocab: FileInFolder },
  options: FolderLoadOptions = {},
): Promise<LoadedModel> {
  const configPath = files.config.folder.describe(files.config.name);
  const vocabPath = files.vocab.folder.describe(files.vocab.name);
  const config = await readConfig(files.config);
  const lineTokens = vocabTokensFromBytes(await files.vocab.folder.read(files.vocab.name));
  if (lineTokens.length !== config.vocabSize) {
    throw new Error(`${vocabPath} has ${lineTokens.length} lines but ${configPath} says vocab_size ${config.vocabSize}`);
  }
  const { vocab, keepTokens } = buildVocab(lineTokens, { simplified: true }, `vocabulary file '${vocabPath}'`);
  const reader = await (options.openCheckpoint ?? openFolderCheckpoint)(files.checkpoint.folder, files.checkpoint.name);
  try {
    const weights = loadWeightArrays(reader, config, { keepTokens, allowMissing: options.allowMissing, warn: options.warn });
    return { config: { ...config, vocabSize: vocab.tokens.length }, vocab, weights, optimizer: null, description: reader.prefix };
  } finally {
    reader.close();
  }
}
