/**
 * One entry for every kind of model folder `--model DIR` accepts: a folder as `train --out`
 * writes it or a TensorFlow BERT folder, a HuggingFace folder, or a sentence-transformers
 * folder, told apart by the files they hold.
 */
import { loadModelFolder, type FolderLoadOptions, type LoadedModel } from '../model/model-folder.js';
import { FormatError } from './errors.js';
import type { FileFolder } from './folder.js';
import { loadHfFolder, MODEL_FOLDER_CONTENTS, modelFolderKind } from './hf-folder.js';

/** Loads whichever kind of model folder `folder` is; only a TensorFlow folder carries Adam moments. */
export async function loadAnyModelFolder(folder: FileFolder, options: FolderLoadOptions = {}): Promise<LoadedModel> {
  const kind = await modelFolderKind(folder);
  if (kind === 'tf') return loadModelFolder(folder, options);
  if (kind === null) throw new FormatError(`${folder.location}: not a model folder; expected ${MODEL_FOLDER_CONTENTS}`);
  return loadHfFolder(folder, kind, { allowMissing: options.allowMissing, warn: options.warn });
}
