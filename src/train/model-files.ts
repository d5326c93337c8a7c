import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AdamWState } from '../autograd/adamw.js';
import { writeCheckpoint } from '../model/checkpoint/index.js';
import { bertConfigToJson, type BertConfig } from '../model/config.js';
import { ADAM_SLOTS, MODEL_FILES } from '../model/model-folder.js';
import type { Vocab } from '../model/vocab.js';
import { writeVocabFile } from '../node/vocab-file.js';

/**
 * A model directory as `train --out` writes it: what bert4keras loads (bert_config.json,
 * vocab.txt, bert_model.ckpt.* with Adam slots beside the weights, as Google's checkpoints have
 * them) plus trainer-state.json for --resume.
 *
 * A checkpoint is written into DIR/.staging, marked complete, then moved into place file by
 * file. A run killed while staging leaves the previous checkpoint untouched; one killed while
 * moving is rolled forward by `recoverModelDir`, which every reader calls first.
 */
const STAGING = '.staging';
const COMPLETE = 'COMPLETE';

export interface SavedModel {
  config: BertConfig;
  vocab: Vocab;
  weights: Map<string, { shape: number[]; data: Float32Array }>;
  optimizer?: AdamWState;
  trainerState?: unknown;
}

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
