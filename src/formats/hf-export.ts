/**
 * The files of a HuggingFace BERT folder and of a sentence-transformers folder for a SimBERT
 * model, as bytes by relative path. HuggingFace's BertModel adds a tanh after the pooler's dense
 * layer and SimBERT does not, so the sentence-transformers folder takes the vector as the
 * [CLS] token output (CLS pooling) through a Dense layer with identity activation holding the
 * pooler's weights: SentenceTransformer(path).encode(texts) then gives this tool's vectors.
 */
import { bertConfigToJson, bertParameterShapes, type BertConfig } from '../model/config.js';
import type { Vocab } from '../model/vocab.js';
import { hfNameOfTf, transposeMatrix } from './hf-names.js';
import { writeSafetensors } from './safetensors.js';

export interface ExportableModel {
  /** vocabSize is the vocabulary's size. */
  config: BertConfig;
  vocab: Vocab;
  /** TF-named weights in TF layouts. */
  weights: Map<string, Float32Array>;
}

const SPECIAL_TOKENS = { unk_token: '[UNK]', sep_token: '[SEP]', pad_token: '[PAD]', cls_token: '[CLS]', mask_token: '[MASK]' } as const;
const WHITESPACE = /\s/u;

function json(value: unknown): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);
}

/** One token per line; a token holding whitespace or a line break could not be read back as one line. */
function vocabFile(vocab: Vocab): Uint8Array {
  vocab.tokens.forEach((token, id) => {
    if (WHITESPACE.test(token)) throw new Error(`cannot export the vocabulary: token ${id} ${JSON.stringify(token)} contains whitespace`);
  });
  return new TextEncoder().encode(vocab.tokens.map((token) => `${token}\n`).join(''));
}

/** Google's keys plus what transformers needs to build a BertForMaskedLM with BERT's LayerNorm epsilon. */
function hfConfig(config: BertConfig, vocabSize: number): Record<string, unknown> {
  return {
    architectures: ['BertForMaskedLM'],
    model_type: 'bert',
    ...bertConfigToJson({ ...config, vocabSize }),
    layer_norm_eps: 1e-12,
    pad_token_id: 0,
    position_embedding_type: 'absolute',
  };
}

function weightOf(model: ExportableModel, name: string, length: number): Float32Array {
  const data = model.weights.get(name);
  if (!data || data.length !== length) throw new Error(`cannot export: weight ${name} is ${data ? `${data.length} values, expected ${length}` : 'missing'}`);
  return data;
}

/** config.json, vocab.txt, model.safetensors (BertForMaskedLM keys), tokenizer_config.json, special_tokens_map.json. */
export function hfFolderFiles(model: ExportableModel): Map<string, Uint8Array> {
  const vocabSize = model.vocab.tokens.length;
  const tensors = bertParameterShapes(model.config, vocabSize).map(({ name, shape }) => {
    const data = weightOf(model, name, shape.reduce((count, size) => count * size, 1));
    const { name: key, transpose } = hfNameOfTf(name);
    return transpose ? { name: key, shape: [shape[1], shape[0]], data: transposeMatrix(data, shape[0], shape[1]) } : { name: key, shape, data };
  });
  const specialTokens = Object.fromEntries(Object.entries(SPECIAL_TOKENS).filter(([, token]) => model.vocab.ids.has(token)));
  return new Map([
    ['config.json', json(hfConfig(model.config, vocabSize))],
    ['vocab.txt', vocabFile(model.vocab)],
    ['model.safetensors', writeSafetensors(tensors, { format: 'pt' })],
    ['tokenizer_config.json', json({
      tokenizer_class: 'BertTokenizer', do_lower_case: true, tokenize_chinese_chars: true, strip_accents: null,
      model_max_length: model.config.maxPositionEmbeddings, ...specialTokens,
    })],
    ['special_tokens_map.json', json(specialTokens)],
  ]);
}

/** The HuggingFace folder plus the modules that make its vectors SimBERT's: CLS pooling, then the pooler as a Dense layer. */
export function sentenceTransformersFiles(model: ExportableModel, maxSeqLength: number): Map<string, Uint8Array> {
  const hidden = model.config.hiddenSize;
  const kernel = weightOf(model, 'bert/pooler/dense/kernel', hidden * hidden);
  const bias = weightOf(model, 'bert/pooler/dense/bias', hidden);
  const files = hfFolderFiles(model);
  files.set('modules.json', json([
    { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
    { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
    { idx: 2, name: '2', path: '2_Dense', type: 'sentence_transformers.models.Dense' },
  ]));
  files.set('sentence_bert_config.json', json({ max_seq_length: Math.min(maxSeqLength, model.config.maxPositionEmbeddings), do_lower_case: false }));
  files.set('config_sentence_transformers.json', json({ prompts: {}, default_prompt_name: null, similarity_fn_name: 'cosine' }));
  files.set('1_Pooling/config.json', json({
    word_embedding_dimension: hidden,
    pooling_mode_cls_token: true,
    pooling_mode_mean_tokens: false,
    pooling_mode_max_tokens: false,
    pooling_mode_mean_sqrt_len_tokens: false,
    pooling_mode_weightedmean_tokens: false,
    pooling_mode_lasttoken: false,
    include_prompt: true,
  }));
  files.set('2_Dense/config.json', json({ in_features: hidden, out_features: hidden, bias: true, activation_function: 'torch.nn.modules.linear.Identity' }));
  files.set('2_Dense/model.safetensors', writeSafetensors([
    { name: 'linear.weight', shape: [hidden, hidden], data: transposeMatrix(kernel, hidden, hidden) },
    { name: 'linear.bias', shape: [hidden], data: bias },
  ], { format: 'pt' }));
  return files;
}
