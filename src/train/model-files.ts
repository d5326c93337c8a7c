import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AdamWState } from '../autograd/adamw.js';
import { CheckpointReader, writeCheckpoint } from '../model/checkpoint/index.js';
import { bertConfigToJson, loadBertConfig, type BertConfig } from '../model/config.js';
import { loadWeightArrays } from '../model/load.js';
import { loadVocab, readVocabFile, writeVocabFile, type Vocab } from '../model/vocab.js';

/**
 * A model directory as `train --out` writes it: what bert4keras loads (bert_config.json,
 * vocab.txt, bert_model.ckpt.* with Adam slots beside the weights, as Google's checkpoints have
 * them) plus trainer-state.json for --resume.
 *
 * A checkpoint is written into DIR/.staging, marked complete, then moved into place file by
 * file. A run killed while staging leaves the previous checkpoint untouched; one killed while
 * moving is rolled forward by `recoverModelDir`, which every reader calls first.
 */
export const MODEL_FILES = {
  config: 'bert_config.json',
  vocab: 'vocab.txt',
  checkpoint: 'bert_model.ckpt',
  trainerState: 'trainer-state.json',
} as const;

const STAGING = '.staging';
const COMPLETE = 'COMPLETE';

export interface LoadedModel {
  /** vocabSize is the (simplified) vocabulary's size. */
  config: BertConfig;
  vocab: Vocab;
  weights: Map<string, Float32Array>;
  /** Adam moments saved beside the weights, when the checkpoint has them. */
  optimizer: AdamWState | null;
  description: string;
}

export interface ModelLocation {
  /** A directory written by `train --out`. */
  model?: string;
  config?: string;
  checkpoint?: string;
  vocab?: string;
  allowMissing?: boolean;
  warn?: (message: string) => void;
}

export interface SavedModel {
  config: BertConfig;
  vocab: Vocab;
  weights: Map<string, { shape: number[]; data: Float32Array }>;
  optimizer?: AdamWState;
  trainerState?: unknown;
}

/** The flags naming a model do not fit together (the CLI reports this as a usage error). */
export class ModelLocationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelLocationError';
  }
}

const ADAM_SLOTS = { m: 'adam_m', v: 'adam_v' } as const;

/** Finishes moving a completely staged checkpoint into place, or discards an incomplete one. */
export function recoverModelDir(dir: string): void {
  const staging = join(dir, STAGING);
  if (!existsSync(staging)) return;
  const marker = join(staging, COMPLETE);
  if (existsSync(marker)) {
    const files = JSON.parse(readFileSync(marker, 'utf8')) as string[];
    for (const file of files) {
      if (existsSync(join(staging, file))) renameSync(join(staging, file), join(dir, file));
    }
  }
  rmSync(staging, { recursive: true, force: true });
}

/** Writes a complete model directory (see MODEL_FILES) crash-safely. */
export function writeModelDir(dir: string, saved: SavedModel): void {
  mkdirSync(dir, { recursive: true });
  recoverModelDir(dir);
  const staging = join(dir, STAGING);
  mkdirSync(staging);
  const config = { ...saved.config, vocabSize: saved.vocab.tokens.length };
  writeFileSync(join(staging, MODEL_FILES.config), `${JSON.stringify(bertConfigToJson(config), null, 2)}\n`);
  writeVocabFile(join(staging, MODEL_FILES.vocab), saved.vocab);
  const tensors = [...saved.weights].map(([name, { shape, data }]) => ({ name, shape, data }));
  if (saved.optimizer) {
    for (const [name, { shape }] of saved.weights) {
      const m = saved.optimizer.m.get(name);
      const v = saved.optimizer.v.get(name);
      if (m) tensors.push({ name: `${name}/${ADAM_SLOTS.m}`, shape, data: m });
      if (v) tensors.push({ name: `${name}/${ADAM_SLOTS.v}`, shape, data: v });
    }
  }
  writeCheckpoint(join(staging, MODEL_FILES.checkpoint), tensors);
  if (saved.trainerState !== undefined) {
    const state = { ...(saved.trainerState as object), optimizerStep: saved.optimizer?.step ?? 0 };
    writeFileSync(join(staging, MODEL_FILES.trainerState), `${JSON.stringify(state)}\n`);
  }
  const files = readdirSync(staging);
  writeFileSync(join(staging, COMPLETE), JSON.stringify(files));
  recoverModelDir(dir);
}

/** The trainer state saved in a model directory, or null when it has none. */
export function readTrainerState(dir: string): Record<string, unknown> | null {
  recoverModelDir(dir);
  const path = join(dir, MODEL_FILES.trainerState);
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`${path}: not valid JSON (${(error as Error).message})`);
  }
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

/**
 * Loads a model either from a directory written by `train --out` (--model) or from a pretrained
 * Google/HFL checkpoint (--config, --checkpoint, --vocab), whose vocabulary is simplified as the
 * recipe does and whose embedding rows are gathered by keep_tokens.
 */
export function loadModel(location: ModelLocation): LoadedModel {
  if (location.model) {
    const dir = location.model;
    if (location.config || location.checkpoint || location.vocab) {
      throw new ModelLocationError('give either --model DIR or --config/--checkpoint/--vocab, not both');
    }
    if (!existsSync(dir)) throw new Error(`model directory '${dir}' does not exist`);
    recoverModelDir(dir);
    const config = loadBertConfig(join(dir, MODEL_FILES.config));
    const { vocab } = loadVocab(join(dir, MODEL_FILES.vocab));
    if (vocab.tokens.length !== config.vocabSize) {
      throw new Error(`${join(dir, MODEL_FILES.vocab)} has ${vocab.tokens.length} tokens but ${join(dir, MODEL_FILES.config)} says vocab_size ${config.vocabSize}`);
    }
    const reader = CheckpointReader.open(join(dir, MODEL_FILES.checkpoint));
    try {
      const weights = loadWeightArrays(reader, config, { allowMissing: location.allowMissing, warn: location.warn });
      const state = readTrainerState(dir);
      const optimizer = readOptimizer(reader, weights.keys(), typeof state?.optimizerStep === 'number' ? state.optimizerStep : 0);
      return { config, vocab, weights, optimizer, description: dir };
    } finally {
      reader.close();
    }
  }
  const missing = (['config', 'checkpoint', 'vocab'] as const).filter((key) => !location[key]);
  if (missing.length > 0) {
    throw new ModelLocationError(`a model needs --model DIR, or all of --config, --checkpoint and --vocab (missing: ${missing.map((m) => `--${m}`).join(', ')})`);
  }
  const config = loadBertConfig(location.config!);
  const originalSize = readVocabFile(location.vocab!).length;
  if (originalSize !== config.vocabSize) {
    throw new Error(`${location.vocab} has ${originalSize} lines but ${location.config} says vocab_size ${config.vocabSize}`);
  }
  const { vocab, keepTokens } = loadVocab(location.vocab!, { simplified: true });
  const reader = CheckpointReader.open(location.checkpoint!);
  try {
    const weights = loadWeightArrays(reader, config, { keepTokens, allowMissing: location.allowMissing, warn: location.warn });
    return { config: { ...config, vocabSize: vocab.tokens.length }, vocab, weights, optimizer: null, description: location.checkpoint! };
  } finally {
    reader.close();
  }
}
