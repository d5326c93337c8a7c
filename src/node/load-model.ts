/** Loading the model the CLI's flags name, from files on disk. */
import { existsSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { FileFolder } from '../formats/folder.js';
import type { CheckpointReader } from '../model/checkpoint/bundle-reader.js';
import { CheckpointError } from '../model/checkpoint/errors.js';
import { loadAnyModelFolder } from '../formats/model-folder-kinds.js';
import { loadPretrainedModel, type FileInFolder, type LoadedModel } from '../model/model-folder.js';
import { openCheckpoint, resolveCheckpointPrefix } from './checkpoint-files.js';
import { DirectoryFolder } from './file-folder.js';

export interface ModelLocation {
  /** A model folder: written by `train --out`, TensorFlow BERT, HuggingFace or sentence-transformers. */
  model?: string;
  config?: string;
  checkpoint?: string;
  vocab?: string;
  allowMissing?: boolean;
  warn?: (message: string) => void;
}

/** The flags naming a model do not fit together (the CLI reports this as a usage error). */
export class ModelLocationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelLocationError';
  }
}

function fileAt(path: string): FileInFolder {
  return { folder: new DirectoryFolder(dirname(path)), name: basename(path) };
}

/** Tensors are read from the shard files by offset rather than whole. */
async function openDiskCheckpoint(folder: FileFolder, prefixName: string): Promise<CheckpointReader> {
  return openCheckpoint(folder.describe(prefixName));
}

/**
 * Loads a model either from a directory written by `train --out` (--model), with the Adam moments
 * saved beside its weights, or from a pretrained Google/HFL checkpoint (--config, --checkpoint,
 * --vocab). A run directory is read through its top-level links; pass stableModelDir(dir) to read
 * one checkpoint even while a trainer replaces it.
 */
export async function loadModel(location: ModelLocation): Promise<LoadedModel> {
  const options = { allowMissing: location.allowMissing, warn: location.warn, openCheckpoint: openDiskCheckpoint };
  if (location.model) {
    const dir = location.model;
    if (location.config || location.checkpoint || location.vocab) {
      throw new ModelLocationError('give either --model DIR or --config/--checkpoint/--vocab, not both');
    }
    if (!existsSync(dir)) throw new Error(`model directory '${dir}' does not exist`);
    const loaded = await loadAnyModelFolder(new DirectoryFolder(dir), { ...options, withOptimizer: true });
    return { ...loaded, description: dir };
  }
  const missing = (['config', 'checkpoint', 'vocab'] as const).filter((key) => !location[key]);
  if (missing.length > 0) {
    throw new ModelLocationError(`a model needs --model DIR, or all of --config, --checkpoint and --vocab (missing: ${missing.map((m) => `--${m}`).join(', ')})`);
  }
  const resolved = resolveCheckpointPrefix(location.checkpoint!);
  if ('problem' in resolved) throw new CheckpointError(`${location.checkpoint}: ${resolved.problem}`);
  const loaded = await loadPretrainedModel({ config: fileAt(location.config!), checkpoint: fileAt(resolved.prefix), vocab: fileAt(location.vocab!) }, options);
  return { ...loaded, description: location.checkpoint! };
}
