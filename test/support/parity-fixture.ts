// Loader for the model-level parity fixture (test/fixtures/parity/simbert-tiny.{json,bin}),
// the PyTorch "debug state" written by scripts/make-parity-fixture.py (float64 reference,
// stored as float32). See that script's docstring for exactly what is computed.
import { readFileSync } from 'node:fs';
import { projectFixture } from './fixtures.js';

/** One stored array: row-major float32 values and their shape. */
export interface FixtureArray {
  shape: number[];
  data: Float32Array;
}

/** bert_config.json keys, as the fixture stores them. */
export interface ParityBertConfig {
  attention_probs_dropout_prob: number;
  hidden_act: string;
  hidden_dropout_prob: number;
  hidden_size: number;
  initializer_range: number;
  intermediate_size: number;
  max_position_embeddings: number;
  num_attention_heads: number;
  num_hidden_layers: number;
  type_vocab_size: number;
  vocab_size: number;
}

export interface ParityLosses {
  total: number;
  seq2seq: number;
  similarity: number;
}

export interface ParityFixture {
  config: ParityBertConfig;
  /** LayerNorm epsilon (1e-12). */
  layerNormEps: number;
  /** Added to masked attention scores (-1e12). */
  maskValue: number;
  /** Similarity logits scale (30). */
  similarityScale: number;
  lr: number;
  weightDecay: number;
  adam: { beta1: number; beta2: number; epsilon: number; steps: number };
  batch: number;
  seqLen: number;
  /** [batch][seqLen] token ids; rows 2k, 2k+1 are encode(a, b), encode(b, a); padding is id 0. */
  ids: number[][];
  /** [batch][seqLen] segment ids (padding has segment 0). */
  segments: number[][];
  /** Parameter names in the script's canonical order (TensorFlow BERT variable names). */
  paramNames: string[];
  /** Initial parameters, TF layouts (dense kernels [in, out]). */
  params: Map<string, FixtureArray>;
  /** Gradient of the total loss at the initial parameters, same names and shapes. */
  grads: Map<string, FixtureArray>;
  /** MLM logits [batch, seqLen, vocab] (before softmax). */
  logits: FixtureArray;
  /** Pooler output [batch, hidden] (linear, no tanh). */
  pooled: FixtureArray;
  /** [0]: after the embeddings LayerNorm; [i + 1]: after layer i; each [batch, seqLen, hidden]. */
  hiddenStates: FixtureArray[];
  /** Losses at the initial parameters (float64 values). */
  losses: ParityLosses;
  /** Losses before each AdamW step on the same batch, then after the last: length steps + 1. */
  adamwLosses: ParityLosses[];
  /** A few parameters after all the AdamW steps (names are a subset of paramNames). */
  finalParams: Map<string, FixtureArray>;
}

interface ArrayEntry {
  kind: 'param' | 'grad' | 'output' | 'hidden' | 'final_param';
  name: string;
  shape: number[];
  offset: number;
  length: number;
}

interface FixtureJson {
  format: string;
  config: ParityBertConfig;
  layer_norm_eps: number;
  mask_value: number;
  similarity_scale: number;
  lr: number;
  weight_decay: number;
  adam: { beta_1: number; beta_2: number; epsilon: number; steps: number };
  batch: number;
  seq_len: number;
  ids: number[][];
  segments: number[][];
  losses: ParityLosses;
  adamw_losses: ParityLosses[];
  bin: string;
  bin_floats: number;
  arrays: ArrayEntry[];
}

export const PARITY_FIXTURE_NAME = 'simbert-tiny';

/** The expected TF variable names and shapes of a BERT with pooler and MLM head, in canonical order. */
export function expectedParamShapes(config: ParityBertConfig): Array<[string, number[]]> {
  const V = config.vocab_size;
  const H = config.hidden_size;
  const I = config.intermediate_size;
  const out: Array<[string, number[]]> = [
    ['bert/embeddings/word_embeddings', [V, H]],
    ['bert/embeddings/token_type_embeddings', [config.type_vocab_size, H]],
    ['bert/embeddings/position_embeddings', [config.max_position_embeddings, H]],
    ['bert/embeddings/LayerNorm/gamma', [H]],
    ['bert/embeddings/LayerNorm/beta', [H]],
  ];
  for (let i = 0; i < config.num_hidden_layers; i++) {
    const p = `bert/encoder/layer_${i}`;
    for (const n of ['query', 'key', 'value']) {
      out.push([`${p}/attention/self/${n}/kernel`, [H, H]], [`${p}/attention/self/${n}/bias`, [H]]);
    }
    out.push(
      [`${p}/attention/output/dense/kernel`, [H, H]],
      [`${p}/attention/output/dense/bias`, [H]],
      [`${p}/attention/output/LayerNorm/gamma`, [H]],
      [`${p}/attention/output/LayerNorm/beta`, [H]],
      [`${p}/intermediate/dense/kernel`, [H, I]],
      [`${p}/intermediate/dense/bias`, [I]],
      [`${p}/output/dense/kernel`, [I, H]],
      [`${p}/output/dense/bias`, [H]],
      [`${p}/output/LayerNorm/gamma`, [H]],
      [`${p}/output/LayerNorm/beta`, [H]],
    );
  }
  out.push(
    ['bert/pooler/dense/kernel', [H, H]],
    ['bert/pooler/dense/bias', [H]],
    ['cls/predictions/transform/dense/kernel', [H, H]],
    ['cls/predictions/transform/dense/bias', [H]],
    ['cls/predictions/transform/LayerNorm/gamma', [H]],
    ['cls/predictions/transform/LayerNorm/beta', [H]],
    ['cls/predictions/output_bias', [V]],
  );
  return out;
}

function fail(message: string): never {
  throw new Error(`parity fixture: ${message}`);
}

/** Reads and validates the parity fixture; every call returns fresh arrays. */
export function loadParityFixture(name: string = PARITY_FIXTURE_NAME): ParityFixture {
  const jsonPath = projectFixture('parity', `${name}.json`);
  const meta = JSON.parse(readFileSync(jsonPath, 'utf8')) as FixtureJson;
  if (meta.format !== 'simbert-parity-fixture/1') fail(`unknown format '${meta.format}' in ${jsonPath}`);
  const bin = readFileSync(projectFixture('parity', meta.bin));
  if (bin.byteLength !== meta.bin_floats * 4) {
    fail(`${meta.bin} has ${bin.byteLength} bytes, expected ${meta.bin_floats * 4}`);
  }
  const view = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);

  const read = (e: ArrayEntry): FixtureArray => {
    const size = e.shape.reduce((a, b) => a * b, 1);
    if (size !== e.length) fail(`${e.kind} ${e.name}: shape [${e.shape}] holds ${size} values, index says ${e.length}`);
    if (e.offset < 0 || e.offset + e.length > meta.bin_floats) fail(`${e.kind} ${e.name}: out of range`);
    const data = new Float32Array(e.length);
    for (let i = 0; i < e.length; i++) data[i] = view.getFloat32((e.offset + i) * 4, true);
    return { shape: [...e.shape], data };
  };

  const params = new Map<string, FixtureArray>();
  const grads = new Map<string, FixtureArray>();
  const finalParams = new Map<string, FixtureArray>();
  const outputs = new Map<string, FixtureArray>();
  const hidden = new Map<string, FixtureArray>();
  const paramNames: string[] = [];
  for (const e of meta.arrays) {
    const target = { param: params, grad: grads, final_param: finalParams, output: outputs, hidden }[e.kind];
    if (target === undefined) fail(`unknown array kind '${e.kind}'`);
    if (target.has(e.name)) fail(`duplicate ${e.kind} ${e.name}`);
    target.set(e.name, read(e));
    if (e.kind === 'param') paramNames.push(e.name);
  }
  const output = (n: string): FixtureArray => outputs.get(n) ?? fail(`missing output '${n}'`);
  const hiddenNames = ['embeddings'];
  for (let i = 0; i < meta.config.num_hidden_layers; i++) hiddenNames.push(`layer_${i}`);
  const hiddenStates = hiddenNames.map((n) => hidden.get(n) ?? fail(`missing hidden state '${n}'`));

  return {
    config: meta.config,
    layerNormEps: meta.layer_norm_eps,
    maskValue: meta.mask_value,
    similarityScale: meta.similarity_scale,
    lr: meta.lr,
    weightDecay: meta.weight_decay,
    adam: { beta1: meta.adam.beta_1, beta2: meta.adam.beta_2, epsilon: meta.adam.epsilon, steps: meta.adam.steps },
    batch: meta.batch,
    seqLen: meta.seq_len,
    ids: meta.ids,
    segments: meta.segments,
    paramNames,
    params,
    grads,
    logits: output('logits'),
    pooled: output('pooled'),
    hiddenStates,
    losses: meta.losses,
    adamwLosses: meta.adamw_losses,
    finalParams,
  };
}
