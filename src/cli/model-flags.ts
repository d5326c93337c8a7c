import type { Gpu } from '../gpu/device.js';
import { formatBytes } from '../gpu/format.js';
import { SimBert } from '../model/bert.js';
import { convertForInference } from '../model/inference.js';
import { uploadWeights } from '../model/parameters.js';
import { Tokenizer } from '../model/tokenizer.js';
import type { LoadedModel } from '../model/model-folder.js';
import { initNodeEngine } from '../node/gpu.js';
import { loadModel, ModelLocationError } from '../node/load-model.js';
import { stableModelDir } from '../node/run-directory.js';
import { UsageError, type FlagSpec, type ParsedArgs } from './args.js';

/** The flags every command that loads a model shares. */
export const MODEL_FLAGS: FlagSpec[] = [
  { name: 'model', kind: 'string', help: 'a model folder: written by train --out, TensorFlow BERT, HuggingFace or sentence-transformers (instead of --config/--checkpoint/--vocab)', placeholder: 'DIR' },
  { name: 'config', kind: 'string', help: 'bert_config.json of a pretrained BERT', placeholder: 'FILE' },
  { name: 'checkpoint', kind: 'string', help: 'TensorFlow checkpoint prefix, e.g. bert_model.ckpt', placeholder: 'PREFIX' },
  { name: 'vocab', kind: 'string', help: 'vocab.txt (simplified as the recipe does)', placeholder: 'FILE' },
  { name: 'allow-missing', kind: 'boolean', help: 'initialise a missing pooler or MLM head instead of failing' },
  { name: 'maxlen', kind: 'integer', help: 'maximum tokens per text or pair', default: 128, placeholder: 'N' },
];

export const MEMORY_FLAG: FlagSpec = {
  name: 'memory-limit', kind: 'bytes', help: 'hard cap on GPU memory held by the buffer pool', default: '4GiB', placeholder: 'SIZE',
};

/** Opens the GPU (printing the adapter to stderr) with the --memory-limit cap. */
export async function openGpu(args: ParsedArgs): Promise<Gpu> {
  const limit = args.flags['memory-limit'] as number;
  const gpu = await initNodeEngine({ memoryLimit: limit, compileAhead: true });
  console.error(`adapter: ${gpu.adapterKind} (${gpu.adapterDescription}); memory limit ${formatBytes(limit)}`);
  return gpu;
}

/**
 * Loads the model the flags name; a wrong combination of flags, or a --maxlen beyond the model's
 * positions, is a usage error (exit 2). A run directory is read from its current checkpoint.
 */
export async function loadModelFromFlags(args: ParsedArgs, command: string): Promise<LoadedModel> {
  const flag = (name: string) => args.flags[name] as string | undefined;
  const model = flag('model');
  let loaded: LoadedModel;
  try {
    loaded = await loadModel({
      model: model === undefined ? undefined : stableModelDir(model),
      config: flag('config'),
      checkpoint: flag('checkpoint'),
      vocab: flag('vocab'),
      allowMissing: args.flags['allow-missing'] === true,
      warn: (message) => console.error(message),
    });
  } catch (error) {
    if (error instanceof ModelLocationError) throw new UsageError(error.message, command);
    throw error;
  }
  const maxlen = args.flags.maxlen as number | undefined;
  if (args.given.has('maxlen') && maxlen !== undefined && maxlen > loaded.config.maxPositionEmbeddings) {
    throw new UsageError(`--maxlen ${maxlen} exceeds the model's max_position_embeddings ${loaded.config.maxPositionEmbeddings}; give --maxlen ${loaded.config.maxPositionEmbeddings} or less`, command);
  }
  return loaded;
}

/** The model on the GPU, as TensorFlow lays it out (to train and save), and its tokenizer. */
export function instantiate(loaded: LoadedModel): { model: SimBert; tokenizer: Tokenizer } {
  return { model: new SimBert(loaded.config, uploadWeights(loaded.config, loaded.weights)), tokenizer: new Tokenizer(loaded.vocab) };
}

/** The model on the GPU for inference only (dense kernels transposed, see src/model/inference.ts) and its tokenizer. */
export function instantiateForInference(loaded: LoadedModel): { model: SimBert; tokenizer: Tokenizer } {
  const { model, tokenizer } = instantiate(loaded);
  return { model: convertForInference(model), tokenizer };
}

/** The --maxlen a model takes: the default is lowered to its max_position_embeddings (a larger given value is refused on loading). */
export function fitMaxlen(maxlen: number, loaded: LoadedModel): number {
  return Math.min(maxlen, loaded.config.maxPositionEmbeddings);
}

/** --maxlen, with a usage error when it is too small. */
export function maxlenFlag(args: ParsedArgs, command: string): number {
  const maxlen = args.flags.maxlen as number;
  if (!(maxlen >= 3)) throw new UsageError(`--maxlen must be at least 3, got ${maxlen}`, command);
  return maxlen;
}
