/**
 * Model folders from the HuggingFace ecosystem, read through a FileFolder:
 *  - a HuggingFace BERT folder: config.json (model_type bert), vocab.txt (or tokenizer.json), and model.safetensors
 *    or pytorch_model.bin with BertModel or BertForMaskedLM keys;
 *  - a sentence-transformers folder: modules.json naming a Transformer module (such a folder),
 *    a Pooling module and optionally a Dense module. SimBERT's vector is a linear layer on the
 *    [CLS] output, so CLS pooling followed by an identity-activation Dense maps onto the pooler
 *    exactly, and CLS pooling alone onto an identity pooler.
 * The vocabulary is simplified as the SimBERT recipe does for a pretrained checkpoint (identity
 * for a vocabulary this tool wrote), with the embedding rows gathered to match.
 */
import { parseBertConfig, type BertConfig } from '../model/config.js';
import { loadWeightArrays } from '../model/load.js';
import type { LoadedModel } from '../model/model-folder.js';
import { buildVocab, vocabTokensFromBytes, type Vocab } from '../model/vocab.js';
import { FormatError } from './errors.js';
import type { FileFolder } from './folder.js';
import { transposeMatrix } from './hf-names.js';
import { hfWeightSource, lacksMaskedLmHead, type WeightOverrides } from './hf-weights.js';
import { readPytorchStateDict } from './pytorch.js';
import { readSafetensors } from './safetensors.js';
import type { TensorSource } from './tensor-source.js';

export type ModelFolderKind = 'tf' | 'hf' | 'sentence-transformers';

export const HF_FILES = {
  config: 'config.json',
  vocab: 'vocab.txt',
  /** Read for the vocabulary only when vocab.txt is absent. */
  tokenizer: 'tokenizer.json',
  safetensors: 'model.safetensors',
  pytorch: 'pytorch_model.bin',
  modules: 'modules.json',
} as const;

const TF_CONFIG = 'bert_config.json';
const IDENTITY_ACTIVATION = 'torch.nn.modules.linear.Identity';

export interface HfLoadOptions {
  allowMissing?: boolean;
  seed?: number;
  warn?: (message: string) => void;
}

/** Which kind of model folder this is, by the files it holds; null when it is none of them. */
export async function modelFolderKind(folder: FileFolder): Promise<ModelFolderKind | null> {
  if (await folder.has(HF_FILES.modules)) return 'sentence-transformers';
  if (await folder.has(HF_FILES.config) && (await folder.has(HF_FILES.safetensors) || await folder.has(HF_FILES.pytorch))) return 'hf';
  if (await folder.has(TF_CONFIG)) return 'tf';
  return null;
}

/** What a folder of each kind must hold, for the message when a folder holds none of them. */
export const MODEL_FOLDER_CONTENTS =
  'a TensorFlow BERT folder (bert_config.json, vocab.txt, bert_model.ckpt.*), a HuggingFace folder (config.json, vocab.txt, model.safetensors or pytorch_model.bin) ' +
  'or a sentence-transformers folder (modules.json)';

async function readJson(folder: FileFolder, name: string): Promise<unknown> {
  const text = new TextDecoder().decode(await folder.read(name));
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new FormatError(`${folder.describe(name)}: not valid JSON (${(error as Error).message})`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** config.json of a HuggingFace BERT: Google's keys plus model_type (bert, or absent); settings this model cannot honour are refused. */
export function parseHfConfig(json: unknown, name: string): BertConfig {
  if (!isObject(json)) throw new FormatError(`${name}: expected a JSON object of model settings`);
  // Configs saved before transformers wrote model_type (older BERT uploads) hold BERT's keys alone.
  if (json.model_type !== undefined && json.model_type !== 'bert') {
    throw new FormatError(`${name}: "model_type" is ${JSON.stringify(json.model_type)}; only "bert" models are supported`);
  }
  if (json.hidden_act !== undefined && json.hidden_act !== 'gelu') {
    throw new FormatError(`${name}: "hidden_act" is ${JSON.stringify(json.hidden_act)}; this model implements "gelu" (the erf GELU) only`);
  }
  if (json.layer_norm_eps !== undefined && json.layer_norm_eps !== 1e-12) {
    throw new FormatError(`${name}: "layer_norm_eps" is ${JSON.stringify(json.layer_norm_eps)}; this model uses BERT's 1e-12`);
  }
  if (json.position_embedding_type !== undefined && json.position_embedding_type !== 'absolute') {
    throw new FormatError(`${name}: "position_embedding_type" is ${JSON.stringify(json.position_embedding_type)}; only "absolute" is supported`);
  }
  return parseBertConfig(json, name);
}

async function readWeights(folder: FileFolder, prefix: string): Promise<TensorSource> {
  const safetensors = `${prefix}${HF_FILES.safetensors}`;
  if (await folder.has(safetensors)) return readSafetensors(await folder.read(safetensors), folder.describe(safetensors));
  const pytorch = `${prefix}${HF_FILES.pytorch}`;
  if (await folder.has(pytorch)) return readPytorchStateDict(await folder.read(pytorch), folder.describe(pytorch));
  throw new FormatError(`${folder.location}: no ${safetensors} or ${pytorch}`);
}

/** The WordPiece vocabulary of a tokenizer.json (for folders that ship no vocab.txt), in id order. */
export function tokenizerJsonTokens(json: unknown, name: string): string[] {
  const model = isObject(json) && isObject(json.model) ? json.model : null;
  if (!model || model.type !== 'WordPiece' || !isObject(model.vocab)) throw new FormatError(`${name}: expected a WordPiece tokenizer with a "vocab" object`);
  const entries = Object.entries(model.vocab);
  const tokens = new Array<string>(entries.length);
  for (const [token, id] of entries) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= entries.length || tokens[id] !== undefined) {
      throw new FormatError(`${name}: token ${JSON.stringify(token)} has id ${JSON.stringify(id)}; ids must be 0..${entries.length - 1}, each once`);
    }
    tokens[id] = token;
  }
  return tokens;
}

async function readVocab(folder: FileFolder, prefix: string, config: BertConfig): Promise<{ vocab: Vocab; keepTokens: number[] }> {
  let name = `${prefix}${HF_FILES.vocab}`;
  let tokens: string[];
  if (await folder.has(name) || !(await folder.has(`${prefix}${HF_FILES.tokenizer}`))) {
    tokens = vocabTokensFromBytes(await folder.read(name));
  } else {
    name = `${prefix}${HF_FILES.tokenizer}`;
    tokens = tokenizerJsonTokens(await readJson(folder, name), folder.describe(name));
  }
  if (tokens.length !== config.vocabSize) {
    throw new FormatError(`${folder.describe(name)} has ${tokens.length} tokens but its config says vocab_size ${config.vocabSize}`);
  }
  const { vocab, keepTokens } = buildVocab(tokens, { simplified: true }, folder.describe(name));
  return { vocab, keepTokens: keepTokens as number[] };
}

/** Loads a HuggingFace BERT folder (files under `prefix`, '' for the folder itself). */
async function loadHf(folder: FileFolder, prefix: string, options: HfLoadOptions, overrides?: WeightOverrides): Promise<LoadedModel> {
  const configName = `${prefix}${HF_FILES.config}`;
  const config = parseHfConfig(await readJson(folder, configName), folder.describe(configName));
  const { vocab, keepTokens } = await readVocab(folder, prefix, config);
  const tensors = await readWeights(folder, prefix);
  const source = hfWeightSource(tensors, config, overrides);
  const noHead = lacksMaskedLmHead(source, config);
  if (noHead && !options.allowMissing) {
    options.warn?.(`warning: ${tensors.source} has no MLM head (BertModel keys); it is initialised randomly, as with --allow-missing`);
  }
  const poolerPresent = source.get('bert/pooler/dense/kernel') !== undefined;
  let weights: Map<string, Float32Array>;
  try {
    weights = loadWeightArrays(source, config, {
      keepTokens,
      allowMissing: options.allowMissing || (noHead && poolerPresent),
      seed: options.seed,
      warn: options.warn,
    });
  } catch (error) {
    if (poolerPresent || !(error instanceof Error)) throw error;
    throw new FormatError(`${error.message}\n(transformers saves no pooler for a BertForMaskedLM; SimBERT's vector needs one: pass --allow-missing to initialise it randomly before training)`);
  }
  return { config: { ...config, vocabSize: vocab.tokens.length }, vocab, weights, optimizer: null, description: folder.location };
}

interface StModule {
  type: string;
  path: string;
}

/** A module path inside the folder: '' or relative names, never '..' or absolute (a hostile modules.json must not reach other files). */
const MODULE_PATH = /^(?:\.?|(?!\.\.(?:\/|$))[\w.-]+(?:\/(?!\.\.(?:\/|$))[\w.-]+)*\/?)$/;

function moduleList(json: unknown, name: string): StModule[] {
  if (!Array.isArray(json) || json.some((entry) => !isObject(entry) || typeof entry.type !== 'string' || typeof entry.path !== 'string')) {
    throw new FormatError(`${name}: expected a list of {"type", "path"} modules`);
  }
  for (const module of json as StModule[]) {
    if (!MODULE_PATH.test(module.path)) throw new FormatError(`${name}: module path ${JSON.stringify(module.path)} is not a folder inside the model folder`);
  }
  return json as StModule[];
}

function modulePrefix(path: string): string {
  return path === '' || path === '.' ? '' : `${path.replace(/\/+$/, '')}/`;
}

/** The pooler a sentence-transformers Pooling (+ Dense) pipeline amounts to, or null (with a warning) when it is no linear map of [CLS]. */
async function stPooler(folder: FileFolder, modules: StModule[], hidden: number, warn: (message: string) => void): Promise<WeightOverrides | null> {
  const pooling = modules.find((module) => module.type.endsWith('models.Pooling'));
  const dense = modules.filter((module) => module.type.endsWith('models.Dense'));
  const others = modules.filter((module) => !/models\.(Transformer|Pooling|Dense)$/.test(module.type));
  if (others.length > 0) warn(`warning: ${folder.location}: modules ${others.map((module) => module.type).join(', ')} are not applied`);
  if (pooling) {
    const name = `${modulePrefix(pooling.path)}config.json`;
    const settings = await readJson(folder, name);
    if (!isObject(settings) || settings.pooling_mode_cls_token !== true || Object.entries(settings).some(([key, value]) => key.startsWith('pooling_mode_') && key !== 'pooling_mode_cls_token' && value === true)) {
      warn(`warning: ${folder.describe(name)} does not pool the [CLS] token alone; SimBERT's vector is the pooler on [CLS], so vectors will differ from this folder's own`);
      return null;
    }
  }
  if (dense.length > 1) throw new FormatError(`${folder.location}: ${dense.length} Dense modules; SimBERT's pooler is one linear layer`);
  if (dense.length === 0) {
    const kernel = new Float32Array(hidden * hidden);
    for (let i = 0; i < hidden; i++) kernel[i * hidden + i] = 1;
    return new Map([['bert/pooler/dense/kernel', { shape: [hidden, hidden], data: kernel }], ['bert/pooler/dense/bias', { shape: [hidden], data: new Float32Array(hidden) }]]);
  }
  const prefix = modulePrefix(dense[0].path);
  const configName = `${prefix}config.json`;
  const settings = await readJson(folder, configName);
  if (!isObject(settings) || settings.in_features !== hidden || settings.out_features !== hidden) {
    throw new FormatError(`${folder.describe(configName)}: a Dense layer from ${hidden} to ${hidden} features (SimBERT's pooler) is expected`);
  }
  if (settings.activation_function !== IDENTITY_ACTIVATION) {
    warn(`warning: ${folder.describe(configName)}: activation ${JSON.stringify(settings.activation_function)} is dropped; SimBERT's pooler is linear`);
  }
  const weights = await readWeights(folder, prefix);
  const weight = weights.get('linear.weight');
  if (!weight || weight.shape.join() !== `${hidden},${hidden}`) throw new FormatError(`${weights.source}: no linear.weight of shape [${hidden}, ${hidden}]`);
  const bias = weights.get('linear.bias') ? weights.readFloat32('linear.bias') : new Float32Array(hidden);
  if (bias.length !== hidden) throw new FormatError(`${weights.source}: linear.bias has ${bias.length} values, expected ${hidden}`);
  return new Map([
    ['bert/pooler/dense/kernel', { shape: [hidden, hidden], data: transposeMatrix(weights.readFloat32('linear.weight'), hidden, hidden) }],
    ['bert/pooler/dense/bias', { shape: [hidden], data: bias }],
  ]);
}

/** Loads a sentence-transformers folder whose Transformer module is a HuggingFace BERT. */
async function loadSentenceTransformers(folder: FileFolder, options: HfLoadOptions): Promise<LoadedModel> {
  const modules = moduleList(await readJson(folder, HF_FILES.modules), folder.describe(HF_FILES.modules));
  const transformer = modules.find((module) => module.type.endsWith('models.Transformer'));
  if (!transformer) throw new FormatError(`${folder.describe(HF_FILES.modules)}: no sentence_transformers.models.Transformer module`);
  const prefix = modulePrefix(transformer.path);
  const configName = `${prefix}${HF_FILES.config}`;
  const hidden = parseHfConfig(await readJson(folder, configName), folder.describe(configName)).hiddenSize;
  const warn = options.warn ?? (() => undefined);
  const pooler = await stPooler(folder, modules, hidden, warn);
  return loadHf(folder, prefix, options, pooler ?? undefined);
}

/** Loads a HuggingFace or sentence-transformers folder (see modelFolderKind). */
export async function loadHfFolder(folder: FileFolder, kind: 'hf' | 'sentence-transformers', options: HfLoadOptions = {}): Promise<LoadedModel> {
  return kind === 'hf' ? loadHf(folder, '', options) : loadSentenceTransformers(folder, options);
}
