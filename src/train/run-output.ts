import type { AdamWState } from '../autograd/adamw.js';
import type { BertConfig } from '../model/config.js';
import type { Vocab } from '../model/vocab.js';
import type { TrainerState } from './trainer-state.js';

/** A model as a checkpoint holds it: weights with their shapes, Adam moments, and the trainer's state. */
export interface SavedModel {
  config: BertConfig;
  vocab: Vocab;
  weights: Map<string, { shape: number[]; data: Float32Array }>;
  optimizer?: AdamWState;
  trainerState?: TrainerState;
}

/**
 * Where a training run writes: the trainer knows nothing of files. The Node implementation is a
 * run directory (src/node/run-directory.ts); tests use one in memory.
 */
export interface RunOutput {
  /** Appends metrics records, each whole or not at all. */
  appendMetrics(records: readonly object[]): void;
  /** Saves a complete checkpoint atomically and returns where it is, for messages. */
  writeCheckpoint(saved: SavedModel): string;
}

/** The first tensor (weight or Adam slot) holding a NaN or infinity, or null when all are finite. */
export function findNonFinite(saved: SavedModel): { tensor: string; index: number; value: number } | null {
  const arrays: [string, Float32Array][] = [...saved.weights].map(([name, { data }]) => [name, data]);
  if (saved.optimizer) {
    for (const [name, m] of saved.optimizer.m) arrays.push([`${name}/adam_m`, m]);
    for (const [name, v] of saved.optimizer.v) arrays.push([`${name}/adam_v`, v]);
  }
  for (const [tensor, data] of arrays) {
    for (let index = 0; index < data.length; index++) {
      // x - x is 0 for every finite x and NaN for NaN and both infinities: one test per value.
      if (data[index] - data[index] !== 0) return { tensor, index, value: data[index] };
    }
  }
  return null;
}

/** Throws unless every value is finite: a checkpoint never saves a diverged run. */
export function assertFiniteCheckpoint(saved: SavedModel): void {
  const bad = findNonFinite(saved);
  if (!bad) return;
  const step = saved.trainerState ? ` at step ${saved.trainerState.step}` : '';
  throw new Error(
    `refusing to write a checkpoint${step}: ${bad.tensor}[${bad.index}] is ${bad.value}; the run diverged ` +
      '(lower --lr, or let --skip-nonfinite N skip such steps); the previous checkpoint is kept',
  );
}
