/**
 * bert_config.json (Google BERT's format): parsing, validation, and the TensorFlow variable
 * names and shapes such a BERT has, to check a checkpoint against before loading it.
 */
import type { CheckpointTensorInfo } from './checkpoint/bundle-reader.js';
import { CheckpointError } from './checkpoint/errors.js';

export interface BertConfig {
  vocabSize: number;
  hiddenSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  intermediateSize: number;
  hiddenAct: string;
  hiddenDropoutProb: number;
  attentionProbsDropoutProb: number;
  maxPositionEmbeddings: number;
  typeVocabSize: number;
  initializerRange: number;
}

/** Activation names found in BERT-family configs; the model decides which of them it implements. */
export const KNOWN_HIDDEN_ACTIVATIONS = ['gelu', 'gelu_new', 'relu', 'swish', 'tanh'] as const;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

// Defaults are those of Google's modeling.BertConfig for the keys it does not require.
const DEFAULT_HIDDEN_ACT = 'gelu';
const DEFAULT_DROPOUT = 0.1;
const DEFAULT_INITIALIZER_RANGE = 0.02;

/**
 * Upper bounds far above any published BERT (XLM-R's 250002-token vocabulary, 96 layers), so a
 * corrupt size fails here instead of driving a loop or an allocation of that size.
 */
const MAX_SIZE = 1 << 20;
const MAX_LAYERS = 1024;

/** Parses a bert_config.json text (or an already-parsed object); `sourceName` starts every error message. */
export function parseBertConfig(json: unknown, sourceName: string): BertConfig {
  let value = json;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch (error) {
      throw new ConfigError(`${sourceName}: not valid JSON (${(error as Error).message})`);
    }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(`${sourceName}: expected a JSON object of BERT settings`);
  }
  const raw = value as Record<string, unknown>;
  const fail = (key: string, problem: string): never => {
    throw new ConfigError(`${sourceName}: "${key}" ${problem}`);
  };
  const positiveInteger = (key: string, max = MAX_SIZE): number => {
    const v = raw[key];
    if (v === undefined) return fail(key, 'is missing');
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) return fail(key, `must be a positive integer, got ${JSON.stringify(v)}`);
    if (v > max) return fail(key, `is ${v}, more than the ${max} this reader accepts`);
    return v;
  };
  const probability = (key: string): number => {
    const v = raw[key] ?? DEFAULT_DROPOUT;
    if (typeof v !== 'number' || !(v >= 0 && v < 1)) return fail(key, `must be a probability in [0, 1), got ${JSON.stringify(v)}`);
    return v;
  };
  const hiddenAct = raw.hidden_act ?? DEFAULT_HIDDEN_ACT;
  if (typeof hiddenAct !== 'string' || !(KNOWN_HIDDEN_ACTIVATIONS as readonly string[]).includes(hiddenAct)) {
    fail('hidden_act', `must be one of ${KNOWN_HIDDEN_ACTIVATIONS.join(', ')}, got ${JSON.stringify(hiddenAct)}`);
  }
  const initializerRange = raw.initializer_range ?? DEFAULT_INITIALIZER_RANGE;
  if (typeof initializerRange !== 'number' || !(initializerRange > 0 && Number.isFinite(initializerRange))) {
    fail('initializer_range', `must be a positive number, got ${JSON.stringify(initializerRange)}`);
  }
  const config: BertConfig = {
    vocabSize: positiveInteger('vocab_size'),
    hiddenSize: positiveInteger('hidden_size'),
    numHiddenLayers: positiveInteger('num_hidden_layers', MAX_LAYERS),
    numAttentionHeads: positiveInteger('num_attention_heads'),
    intermediateSize: positiveInteger('intermediate_size'),
    hiddenAct: hiddenAct as string,
    hiddenDropoutProb: probability('hidden_dropout_prob'),
    attentionProbsDropoutProb: probability('attention_probs_dropout_prob'),
    maxPositionEmbeddings: positiveInteger('max_position_embeddings'),
    typeVocabSize: positiveInteger('type_vocab_size'),
    initializerRange: initializerRange as number,
  };
  if (config.hiddenSize % config.numAttentionHeads !== 0) {
    fail('hidden_size', `(${config.hiddenSize}) must be divisible by "num_attention_heads" (${config.numAttentionHeads})`);
  }
  return config;
}

/** Parses the bytes of a bert_config.json file; `sourceName` (its path or URL) names it in errors. */
export function parseBertConfigBytes(bytes: Uint8Array, sourceName: string): BertConfig {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ConfigError(`${sourceName}: not valid UTF-8`);
  }
  return parseBertConfig(text, sourceName);
}

/** The bert_config.json object for a config, with Google's key names. */
export function bertConfigToJson(config: BertConfig): Record<string, number | string> {
  return {
    attention_probs_dropout_prob: config.attentionProbsDropoutProb,
    hidden_act: config.hiddenAct,
    hidden_dropout_prob: config.hiddenDropoutProb,
    hidden_size: config.hiddenSize,
    initializer_range: config.initializerRange,
    intermediate_size: config.intermediateSize,
    max_position_embeddings: config.maxPositionEmbeddings,
    num_attention_heads: config.numAttentionHeads,
    num_hidden_layers: config.numHiddenLayers,
    type_vocab_size: config.typeVocabSize,
    vocab_size: config.vocabSize,
  };
}

/** Which part of the model a parameter belongs to; 'pooler' and 'mlm' are the optional heads. */
export type BertParameterGroup = 'embeddings' | 'encoder' | 'pooler' | 'mlm';

export interface BertParameter {
  name: string;
  shape: number[];
  group: BertParameterGroup;
}

/**
 * The TensorFlow variable names and shapes of a BERT with pooler and MLM head, in model order.
 * `vocabSize` overrides the config's (for a simplified vocabulary whose rows were gathered).
 */
export function bertParameterShapes(config: BertConfig, vocabSize = config.vocabSize): BertParameter[] {
  const { hiddenSize: h, intermediateSize: i } = config;
  const parameters: BertParameter[] = [];
  const add = (group: BertParameterGroup, name: string, ...shape: number[]): void => {
    parameters.push({ name, shape, group });
  };
  const dense = (group: BertParameterGroup, scope: string, inputs: number, outputs: number): void => {
    add(group, `${scope}/kernel`, inputs, outputs);
    add(group, `${scope}/bias`, outputs);
  };
  const layerNorm = (group: BertParameterGroup, scope: string): void => {
    add(group, `${scope}/gamma`, h);
    add(group, `${scope}/beta`, h);
  };
  add('embeddings', 'bert/embeddings/word_embeddings', vocabSize, h);
  add('embeddings', 'bert/embeddings/token_type_embeddings', config.typeVocabSize, h);
  add('embeddings', 'bert/embeddings/position_embeddings', config.maxPositionEmbeddings, h);
  layerNorm('embeddings', 'bert/embeddings/LayerNorm');
  for (let layer = 0; layer < config.numHiddenLayers; layer++) {
    const scope = `bert/encoder/layer_${layer}`;
    for (const projection of ['query', 'key', 'value']) dense('encoder', `${scope}/attention/self/${projection}`, h, h);
    dense('encoder', `${scope}/attention/output/dense`, h, h);
    layerNorm('encoder', `${scope}/attention/output/LayerNorm`);
    dense('encoder', `${scope}/intermediate/dense`, h, i);
    dense('encoder', `${scope}/output/dense`, i, h);
    layerNorm('encoder', `${scope}/output/LayerNorm`);
  }
  dense('pooler', 'bert/pooler/dense', h, h);
  dense('mlm', 'cls/predictions/transform/dense', h, h);
  layerNorm('mlm', 'cls/predictions/transform/LayerNorm');
  add('mlm', 'cls/predictions/output_bias', vocabSize);
  return parameters;
}

/** Optimizer state and bookkeeping that training code saves next to the weights. */
const OPTIMIZER_STATE = /(\/adam_[mv]$|\/Adam(_\d+)?$|\/Momentum$|\/accumulator$|(^|\/)global_step$|^beta[12]_power(_\d+)?$|^_CHECKPOINTABLE_OBJECT_GRAPH$)/;

export function isOptimizerState(name: string): boolean {
  return OPTIMIZER_STATE.test(name);
}

export interface CheckpointValidation {
  /** Missing, misshapen or non-float32 tensors the model needs (empty when validation passed). */
  problems: string[];
  /** Missing optional heads (only with allowMissing). */
  warnings: string[];
  /** Tensors the model does not use, other than optimizer state (e.g. cls/seq_relationship/*). */
  unused: string[];
}

/** A TF checkpoint, or weights from another format under TF names (src/formats). */
export interface CheckpointSource {
  readonly prefix: string;
  readonly tensors: readonly Pick<CheckpointTensorInfo, 'name' | 'dtype' | 'shape'>[];
  get(name: string): Pick<CheckpointTensorInfo, 'name' | 'dtype' | 'shape'> | undefined;
}

/** TF2's tf.train.Checkpoint names variables by object path, which no Google BERT name matches. */
function objectBasedHint(reader: CheckpointSource): string {
  if (!reader.get('_CHECKPOINTABLE_OBJECT_GRAPH')) return '';
  return '\n(a TF2 object-based checkpoint: its variables are named by object path, e.g. ' +
    `'${reader.tensors.find((tensor) => tensor.name.endsWith('/.ATTRIBUTES/VARIABLE_VALUE'))?.name ?? 'model/layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE'}', ` +
    'not by Google BERT names; save the weights under those names or load them through a HuggingFace folder)';
}

/**
 * Checks that a checkpoint holds every tensor of `bertParameterShapes(config)` as float32 with
 * the right shape. Throws a CheckpointError listing every problem; with `allowMissing`, missing
 * pooler and MLM-head tensors become warnings (the model initialises them) instead of problems.
 * With `throwOnProblems: false` the problems are returned instead.
 */
export function validateCheckpointAgainstConfig(
  reader: CheckpointSource,
  config: BertConfig,
  options: { allowMissing?: boolean; throwOnProblems?: boolean } = {},
): CheckpointValidation {
  const problems: string[] = [];
  const warnings: string[] = [];
  const expected = bertParameterShapes(config);
  for (const parameter of expected) {
    const tensor = reader.get(parameter.name);
    const wanted = `[${parameter.shape.join(', ')}]`;
    if (!tensor) {
      const optionalHead = parameter.group === 'pooler' || parameter.group === 'mlm';
      if (optionalHead && options.allowMissing) warnings.push(`${parameter.name} ${wanted} is missing; it will be initialised randomly`);
      else problems.push(`${parameter.name} ${wanted} is missing`);
    } else if (tensor.dtype !== 'float32') {
      problems.push(`${parameter.name} is ${tensor.dtype}, expected float32`);
    } else if (tensor.shape.length !== parameter.shape.length || tensor.shape.some((size, axis) => size !== parameter.shape[axis])) {
      problems.push(`${parameter.name} has shape [${tensor.shape.join(', ')}], expected ${wanted}`);
    }
  }
  const expectedNames = new Set(expected.map((parameter) => parameter.name));
  const unused = reader.tensors.map((tensor) => tensor.name).filter((name) => !expectedNames.has(name) && !isOptimizerState(name));
  if (problems.length > 0 && options.throwOnProblems !== false) {
    throw new CheckpointError(
      `${reader.prefix} does not match the BERT config (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  ${problems.join('\n  ')}${objectBasedHint(reader)}`,
    );
  }
  return { problems, warnings, unused };
}
