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
});

test.run();
