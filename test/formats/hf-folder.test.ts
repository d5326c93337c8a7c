import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadHfFolder, modelFolderKind } from '../../src/formats/hf-folder.js';
import { hfCandidateKeys, hfNameOfTf, tfNameOfHf } from '../../src/formats/hf-names.js';
import { bertParameterShapes } from '../../src/model/config.js';
import { buildVocab } from '../../src/model/vocab.js';
import { INTEROP, interopReference, memoryFolder } from '../support/interop-fixture.js';

const reference = interopReference();
const { vocab: simplified, keepTokens } = buildVocab(reference.vocab, { simplified: true });
const hidden = reference.config.hiddenSize;

test('names map both ways for every parameter, in both key styles and with gamma/beta', () => {
  const expected: Record<string, string> = {
    'bert/embeddings/word_embeddings': 'bert.embeddings.word_embeddings.weight',
    'bert/embeddings/LayerNorm/gamma': 'bert.embeddings.LayerNorm.weight',
    'bert/encoder/layer_1/attention/self/key/kernel': 'bert.encoder.layer.1.attention.self.key.weight',
    'bert/encoder/layer_0/attention/output/LayerNorm/beta': 'bert.encoder.layer.0.attention.output.LayerNorm.bias',
    'bert/encoder/layer_0/output/dense/bias': 'bert.encoder.layer.0.output.dense.bias',
    'bert/pooler/dense/kernel': 'bert.pooler.dense.weight',
    'cls/predictions/transform/dense/kernel': 'cls.predictions.transform.dense.weight',
    'cls/predictions/transform/LayerNorm/gamma': 'cls.predictions.transform.LayerNorm.weight',
    'cls/predictions/output_bias': 'cls.predictions.bias',
  };
  for (const [tf, hf] of Object.entries(expected)) assert.is(hfNameOfTf(tf).name, hf);
  for (const { name, shape } of bertParameterShapes(reference.config)) {
    const hf = hfNameOfTf(name);
    assert.is(hf.transpose, name.endsWith('/kernel'), name);
    assert.equal(tfNameOfHf(hf.name), { name, transpose: hf.transpose }, name);
    if (hf.name.startsWith('bert.')) assert.equal(tfNameOfHf(hf.name.slice(5)), { name, transpose: hf.transpose }, `BertModel key of ${name}`);
    assert.is(shape.length === 2 && !name.includes('embeddings'), hf.transpose, name);
  }
  assert.equal(tfNameOfHf('embeddings.LayerNorm.gamma'), { name: 'bert/embeddings/LayerNorm/gamma', transpose: false });
  assert.equal(tfNameOfHf('bert.encoder.layer.3.output.LayerNorm.beta'), { name: 'bert/encoder/layer_3/output/LayerNorm/beta', transpose: false });
  for (const unused of ['cls.predictions.decoder.weight', 'cls.predictions.decoder.bias', 'bert.embeddings.position_ids', 'cls.seq_relationship.weight', 'lm_head.bias']) {
    assert.is(tfNameOfHf(unused), null, unused);
  }
  assert.equal(hfCandidateKeys('bert/embeddings/LayerNorm/beta'), ['bert.embeddings.LayerNorm.bias', 'bert.embeddings.LayerNorm.beta', 'embeddings.LayerNorm.bias', 'embeddings.LayerNorm.beta']);
});

/** The reference weights as the loader must give them: vocabulary-sized tensors gathered by keep_tokens. */
function expectedWeight(name: string): Float32Array {
  const { data } = reference.weights.get(name)!;
  if (name === 'bert/embeddings/word_embeddings') return Float32Array.from(keepTokens!.flatMap((row) => [...data.subarray(row * hidden, (row + 1) * hidden)]));
  if (name === 'cls/predictions/output_bias') return Float32Array.from(keepTokens!, (row) => data[row]);
  return data;
}

for (const dir of ['hf-mlm', 'hf-safetensors']) {
  test(`${dir}: a HuggingFace folder loads every weight exactly, vocabulary simplified as the recipe does`, async () => {
    const folder = memoryFolder(INTEROP(dir));
    assert.is(await modelFolderKind(folder), 'hf');
    const warnings: string[] = [];
    const model = await loadHfFolder(folder, 'hf', { warn: (message) => warnings.push(message) });
    assert.equal(warnings, []);
    assert.equal(model.vocab.tokens, simplified.tokens);
    assert.ok(simplified.tokens.length < reference.vocab.length, 'the fixture vocabulary has tokens a simplified vocabulary drops');
    assert.is(model.config.vocabSize, simplified.tokens.length);
    for (const { name } of bertParameterShapes(reference.config)) assert.equal([...model.weights.get(name)!], [...expectedWeight(name)], name);
  });
}

test('hf-base: BertModel keys load, the missing MLM head is initialised with a warning', async () => {
  const warnings: string[] = [];
  const model = await loadHfFolder(memoryFolder(INTEROP('hf-base')), 'hf', { warn: (message) => warnings.push(message) });
  assert.match(warnings[0], /hf-base\/pytorch_model\.bin has no MLM head \(BertModel keys\); it is initialised randomly, as with --allow-missing/);
  assert.ok(warnings.some((warning) => warning.includes('cls/predictions/output_bias')), warnings.join('\n'));
  for (const { name, group } of bertParameterShapes(reference.config)) {
    if (group !== 'mlm') assert.equal([...model.weights.get(name)!], [...expectedWeight(name)], name);
    else assert.is(model.weights.get(name)!.length, expectedWeight(name).length, name);
  }
});

test('a folder without the pooler fails naming it unless --allow-missing', async () => {
  const folder = memoryFolder(INTEROP('hf-mlm'));
  const safetensorsFolder = memoryFolder(INTEROP('hf-safetensors'));
  const { readSafetensors, writeSafetensors } = await import('../../src/formats/safetensors.js');
  const file = readSafetensors(await safetensorsFolder.read('model.safetensors'), 'model.safetensors');
  const kept = file.tensors.filter((tensor) => !tensor.name.startsWith('bert.pooler.')).map((tensor) => ({ name: tensor.name, shape: tensor.shape, data: file.readFloat32(tensor.name) }));
  const noPooler = memoryFolder(INTEROP('hf-safetensors'), { 'model.safetensors': writeSafetensors(kept) });
  try {
    await loadHfFolder(noPooler, 'hf');
    assert.unreachable('loaded');
  } catch (error) {
    assert.match((error as Error).message, /model\.safetensors does not match the BERT config \(2 problems\):\n {2}bert\/pooler\/dense\/kernel \[16, 16\] is missing/);
    assert.match((error as Error).message, /\(transformers saves no pooler for a BertForMaskedLM; SimBERT's vector needs one: pass --allow-missing/);
  }
  const warnings: string[] = [];
  await loadHfFolder(noPooler, 'hf', { allowMissing: true, warn: (message) => warnings.push(message) });
  assert.ok(warnings.some((warning) => warning.includes('bert/pooler/dense/kernel [16, 16] is missing; it will be initialised randomly')), warnings.join('\n'));
  assert.is(await modelFolderKind(folder), 'hf');
});

test('config.json settings this model cannot honour, and a vocabulary of the wrong size, are refused naming the file', async () => {
  const config = JSON.parse(new TextDecoder().decode(await memoryFolder(INTEROP('hf-mlm')).read('config.json')));
  const withConfig = (change: Record<string, unknown>) => memoryFolder(INTEROP('hf-mlm'), { 'config.json': new TextEncoder().encode(JSON.stringify({ ...config, ...change })) });
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ model_type: 'roberta' }, /config\.json: "model_type" is "roberta"; only "bert" models are supported/],
    [{ hidden_act: 'gelu_new' }, /config\.json: "hidden_act" is "gelu_new"; this model implements "gelu" \(the erf GELU\) only/],
    [{ layer_norm_eps: 1e-5 }, /config\.json: "layer_norm_eps" is 0\.00001/],
    [{ position_embedding_type: 'relative_key' }, /"position_embedding_type" is "relative_key"/],
    [{ vocab_size: 40 }, /vocab\.txt has 27 tokens but its config says vocab_size 40/],
  ];
  for (const [change, pattern] of cases) {
    try {
      await loadHfFolder(withConfig(change), 'hf');
      assert.unreachable(JSON.stringify(change));
    } catch (error) {
      assert.match((error as Error).message, pattern);
    }
  }
  assert.is(await modelFolderKind(memoryFolder(INTEROP('hf-mlm'), { 'pytorch_model.bin': null })), null);
  const { model_type: _, ...withoutType } = config;
  const old = memoryFolder(INTEROP('hf-mlm'), { 'config.json': new TextEncoder().encode(JSON.stringify(withoutType)) });
  assert.is((await loadHfFolder(old, 'hf')).config.hiddenSize, 16, 'a config from before model_type loads as BERT');
});

/** hf-mlm as a sentence-transformers folder with the given modules (JSON files by path). */
function stFolder(modules: string[], files: Record<string, unknown>): ReturnType<typeof memoryFolder> {
  const encoder = new TextEncoder();
  const entries = modules.map((type, idx) => ({ idx, name: String(idx), path: type === 'Transformer' ? '' : `${idx}_${type}`, type: `sentence_transformers.models.${type}` }));
  const replace: Record<string, Uint8Array> = { 'modules.json': encoder.encode(JSON.stringify(entries)) };
  for (const [name, value] of Object.entries(files)) replace[name] = value instanceof Uint8Array ? value : encoder.encode(JSON.stringify(value));
  return memoryFolder(INTEROP('hf-mlm'), replace);
}

const CLS_POOLING = { word_embedding_dimension: 16, pooling_mode_cls_token: true, pooling_mode_mean_tokens: false };

test('sentence-transformers: CLS pooling alone is an identity pooler; mean pooling keeps the BERT pooler with a warning', async () => {
  const cls = stFolder(['Transformer', 'Pooling'], { '1_Pooling/config.json': CLS_POOLING });
  assert.is(await modelFolderKind(cls), 'sentence-transformers');
  const model = await loadHfFolder(cls, 'sentence-transformers');
  const kernel = model.weights.get('bert/pooler/dense/kernel')!;
  assert.equal([...kernel], Array.from({ length: 256 }, (_, i) => (i % 17 === 0 ? 1 : 0)));
  assert.equal([...model.weights.get('bert/pooler/dense/bias')!], new Array(16).fill(0));
  assert.equal([...model.weights.get('bert/encoder/layer_1/output/dense/kernel')!], [...expectedWeight('bert/encoder/layer_1/output/dense/kernel')]);

  const warnings: string[] = [];
  const mean = stFolder(['Transformer', 'Pooling', 'Normalize'], { '1_Pooling/config.json': { ...CLS_POOLING, pooling_mode_cls_token: false, pooling_mode_mean_tokens: true } });
  const meanModel = await loadHfFolder(mean, 'sentence-transformers', { warn: (message) => warnings.push(message) });
  assert.match(warnings.join('\n'), /modules sentence_transformers\.models\.Normalize are not applied/);
  assert.match(warnings.join('\n'), /1_Pooling\/config\.json does not pool the \[CLS\] token alone/);
  assert.equal([...meanModel.weights.get('bert/pooler/dense/kernel')!], [...expectedWeight('bert/pooler/dense/kernel')]);
});

test('sentence-transformers: a Dense layer of the wrong size is refused, a tanh one loads with a warning', async () => {
  const { writeSafetensors } = await import('../../src/formats/safetensors.js');
  const weight = Float32Array.from({ length: 256 }, (_, i) => i / 256);
  const dense = writeSafetensors([{ name: 'linear.weight', shape: [16, 16], data: weight }, { name: 'linear.bias', shape: [16], data: new Float32Array(16).fill(0.5) }]);
  const tanh = { in_features: 16, out_features: 16, bias: true, activation_function: 'torch.nn.modules.activation.Tanh' };
  const warnings: string[] = [];
  const model = await loadHfFolder(stFolder(['Transformer', 'Pooling', 'Dense'], { '1_Pooling/config.json': CLS_POOLING, '2_Dense/config.json': tanh, '2_Dense/model.safetensors': dense }), 'sentence-transformers', { warn: (message) => warnings.push(message) });
  assert.match(warnings.join('\n'), /2_Dense\/config\.json: activation "torch\.nn\.modules\.activation\.Tanh" is dropped; SimBERT's pooler is linear/);
  assert.is(model.weights.get('bert/pooler/dense/kernel')![2 * 16 + 1], weight[1 * 16 + 2], 'the kernel is linear.weight transposed');
  assert.equal([...model.weights.get('bert/pooler/dense/bias')!], new Array(16).fill(0.5));
  try {
    await loadHfFolder(stFolder(['Transformer', 'Pooling', 'Dense'], { '1_Pooling/config.json': CLS_POOLING, '2_Dense/config.json': { ...tanh, out_features: 8 }, '2_Dense/model.safetensors': dense }), 'sentence-transformers');
    assert.unreachable('loaded');
  } catch (error) {
    assert.match((error as Error).message, /2_Dense\/config\.json: a Dense layer from 16 to 16 features \(SimBERT's pooler\) is expected/);
  }
});

test('without vocab.txt the WordPiece vocabulary of tokenizer.json is used; a malformed one is refused', async () => {
  const vocab = Object.fromEntries(reference.vocab.map((token, id) => [token, id]));
  const tokenizer = (model: unknown) => new TextEncoder().encode(JSON.stringify({ version: '1.0', model }));
  const folder = memoryFolder(INTEROP('hf-mlm'), { 'vocab.txt': null, 'tokenizer.json': tokenizer({ type: 'WordPiece', unk_token: '[UNK]', vocab }) });
  assert.equal((await loadHfFolder(folder, 'hf')).vocab.tokens, simplified.tokens);
  for (const [model, pattern] of [
    [{ type: 'BPE', vocab }, /tokenizer\.json: expected a WordPiece tokenizer/],
    [{ type: 'WordPiece', vocab: { ...vocab, '[PAD]': 3 } }, /tokenizer\.json: token "\[SEP\]" has id 3; ids must be 0\.\.26, each once/],
  ] as const) {
    try {
      await loadHfFolder(memoryFolder(INTEROP('hf-mlm'), { 'vocab.txt': null, 'tokenizer.json': tokenizer(model) }), 'hf');
      assert.unreachable('loaded');
    } catch (error) {
      assert.match((error as Error).message, pattern);
    }
  }
});

test('sentence-transformers: a module path outside the folder is refused before anything is read there', async () => {
  const modules = [{ idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' }, { idx: 1, name: '1', path: '../../etc', type: 'sentence_transformers.models.Pooling' }];
  const folder = memoryFolder(INTEROP('hf-mlm'), { 'modules.json': new TextEncoder().encode(JSON.stringify(modules)) });
  try {
    await loadHfFolder(folder, 'sentence-transformers');
    assert.unreachable('loaded');
  } catch (error) {
    assert.match((error as Error).message, /modules\.json: module path "\.\.\/\.\.\/etc" is not a folder inside the model folder/);
  }
});

test.run();
