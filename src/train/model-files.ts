import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AdamWState } from '../autograd/adamw.js';
import { CheckpointReader } from '../model/checkpoint/index.js';
import { loadBertConfig, type BertConfig } from '../model/config.js';
import { loadWeightArrays } from '../model/load.js';
import { loadVocab, readVocabFile, type Vocab } from '../model/vocab.js';
import { parseTrainerState, type TrainerState } from './trainer-state.js';

/**
 * A model directory as `train --out` writes it: what bert4keras loads (bert_config.json,
 * vocab.txt, bert_model.ckpt.* with Adam slots beside the weights, as Google's checkpoints have
 * them) plus trainer-state.json for --resume. A run directory holds each checkpoint as such a
 * directory under checkpoints/ (see src/node/run-directory.ts); encodeModelFiles gives the bytes.
 */
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

/** Adam moments are saved beside each weight, as Google's checkpoints have them. */
export const ADAM_SLOTS = { m: 'adam_m', v: 'adam_v' } as const;

/** The flags naming a model do not fit together (the CLI reports this as a usage error). */
export class ModelLocationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelLocationError';
  }
}

/** The trainer state saved in a model directory, or null when it has none. */
export function readTrainerState(dir: string): TrainerState | null {
  const path = join(dir, MODEL_FILES.trainerState);
  if (!existsSync(path)) return null;
  return parseTrainerState(readFileSync(path), path);
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
    const config = loadBertConfig(join(dir, MODEL_FILES.config));
    const { vocab } = loadVocab(join(dir, MODEL_FILES.vocab));
    if (vocab.tokens.length !== config.vocabSize) {
      throw new Error(`${join(dir, MODEL_FILES.vocab)} has ${vocab.tokens.length} tokens but ${join(dir, MODEL_FILES.config)} says vocab_size ${config.vocabSize}`);
    }
    const reader = CheckpointReader.open(join(dir, MODEL_FILES.checkpoint));
    try {
      const weights = loadWeightArrays(reader, config, { allowMissing: location.allowMissing, warn: location.warn });
      const state = readTrainerState(dir);
      const optimizer = readOptimizer(reader, weights.keys(), state?.optimizerStep ?? 0);
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
