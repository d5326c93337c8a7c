import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readSafetensors } from '../../src/formats/safetensors.js';
import { writeCheckpoint } from '../../src/model/checkpoint/index.js';
import { bertConfigToJson } from '../../src/model/config.js';
import { readNpyFile } from '../../src/node/npy-file.js';
import { INTEROP, interopReference } from '../support/interop-fixture.js';
import { errorLines, runCli } from '../support/tiny-model.js';

const reference = interopReference();
const scratch = mkdtempSync(join(tmpdir(), 'simbert-export-cli-'));
const textsPath = join(scratch, 'texts.txt');
writeFileSync(textsPath, `${reference.texts.join('\n')}\n`);

/** The reference model as a pretrained Google-style checkpoint: full vocabulary, simplified on loading. */
const pretrained = join(scratch, 'pretrained');
mkdirSync(pretrained);
writeFileSync(join(pretrained, 'bert_config.json'), JSON.stringify(bertConfigToJson(reference.config)));
writeFileSync(join(pretrained, 'vocab.txt'), reference.vocab.map((token) => `${token}\n`).join(''));
writeCheckpoint(join(pretrained, 'bert_model.ckpt'), [...reference.weights].map(([name, { shape, data }]) => ({ name, shape, data })));
const tfFlags = ['--config', join(pretrained, 'bert_config.json'), '--checkpoint', join(pretrained, 'bert_model.ckpt'), '--vocab', join(pretrained, 'vocab.txt')];

function encode(name: string, modelFlags: string[]): Float32Array {
  const out = join(scratch, `${name}.npy`);
  const result = runCli(['encode', ...modelFlags, '--texts', textsPath, '--out', out]);
  assert.is(result.status, 0, `${name}: ${result.stderr}`);
  const { shape, data } = readNpyFile(out);
  assert.equal(shape, [reference.texts.length, reference.config.hiddenSize]);
  return data;
}

function exportTo(name: string, format: string, modelFlags: string[]): string {
  const out = join(scratch, name);
  const result = runCli(['export', ...modelFlags, '--format', format, '--out', out]);
  assert.is(result.status, 0, `${name}: ${result.stderr}`);
  assert.equal(readdirSync(scratch).filter((entry) => entry.includes('.export-')), [], 'no temporary folder is left');
  return out;
}

function assertSameVectors(actual: Float32Array, expected: Float32Array, what: string): void {
  let worst = 0;
  actual.forEach((value, i) => { worst = Math.max(worst, Math.abs(value - expected[i])); });
  assert.ok(worst <= 1e-5, `${what}: largest difference ${worst}`);
}

let tfVectors: Float32Array;

test('the TF path agrees with the float64 reference the fixture script computed', () => {
  tfVectors = encode('tf', tfFlags);
  const hidden = reference.config.hiddenSize;
  reference.pooled.forEach((row, text) => row.forEach((value, j) => {
    assert.ok(Math.abs(tfVectors[text * hidden + j] - value) <= 1e-4 * Math.max(1, Math.abs(value)), `text ${text} value ${j}`);
  }));
});

test('encode through HuggingFace folders (pytorch_model.bin in both key styles, model.safetensors) equals the TF path', () => {
  for (const dir of ['hf-mlm', 'hf-base', 'hf-safetensors']) assertSameVectors(encode(dir, ['--model', INTEROP(dir)]), tfVectors, dir);
});

test('export hf: the files, BertForMaskedLM keys with {"format": "pt"}, and the same vectors back', () => {
  const out = exportTo('export-hf', 'hf', tfFlags);
  assert.equal(readdirSync(out).sort(), ['config.json', 'model.safetensors', 'special_tokens_map.json', 'tokenizer_config.json', 'vocab.txt']);
  const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  const vocab = readFileSync(join(out, 'vocab.txt'), 'utf8').split('\n').slice(0, -1);
  assert.is(config.model_type, 'bert');
  assert.is(config.vocab_size, vocab.length);
  assert.ok(vocab.length < reference.vocab.length, 'the simplified vocabulary is written');
  assert.is(JSON.parse(readFileSync(join(out, 'tokenizer_config.json'), 'utf8')).do_lower_case, true);
  assert.equal(JSON.parse(readFileSync(join(out, 'special_tokens_map.json'), 'utf8')), { unk_token: '[UNK]', sep_token: '[SEP]', pad_token: '[PAD]', cls_token: '[CLS]' });
  const weights = readSafetensors(readFileSync(join(out, 'model.safetensors')), 'model.safetensors');
  assert.equal(weights.metadata, { format: 'pt' });
  assert.equal(weights.get('bert.encoder.layer.1.intermediate.dense.weight')?.shape, [32, 16]);
  assert.equal(weights.get('cls.predictions.bias')?.shape, [vocab.length]);
  assert.ok(weights.tensors.every((tensor) => /^(bert|cls)\./.test(tensor.name)));
  assertSameVectors(encode('export-hf', ['--model', out]), tfVectors, 'hf export');
});

test('export sentence-transformers: modules, CLS pooling, the pooler as an identity Dense, and the same vectors back', () => {
  const out = exportTo('export-st', 'sentence-transformers', ['--model', INTEROP('hf-mlm')]);
  assert.equal(readdirSync(out).sort(), [
    '1_Pooling', '2_Dense', 'config.json', 'config_sentence_transformers.json', 'model.safetensors', 'modules.json',
    'sentence_bert_config.json', 'special_tokens_map.json', 'tokenizer_config.json', 'vocab.txt',
  ]);
  const modules = JSON.parse(readFileSync(join(out, 'modules.json'), 'utf8'));
  assert.equal(modules.map((module: { type: string }) => module.type.split('.').pop()), ['Transformer', 'Pooling', 'Dense']);
  assert.is(JSON.parse(readFileSync(join(out, '1_Pooling', 'config.json'), 'utf8')).pooling_mode_cls_token, true);
  assert.is(JSON.parse(readFileSync(join(out, '2_Dense', 'config.json'), 'utf8')).activation_function, 'torch.nn.modules.linear.Identity');
  assert.is(JSON.parse(readFileSync(join(out, 'config_sentence_transformers.json'), 'utf8')).similarity_fn_name, 'cosine');
  assert.is(JSON.parse(readFileSync(join(out, 'sentence_bert_config.json'), 'utf8')).max_seq_length, 32, 'the default --maxlen 128, capped at max_position_embeddings');
  const dense = readSafetensors(readFileSync(join(out, '2_Dense', 'model.safetensors')), 'dense');
  const kernel = reference.weights.get('bert/pooler/dense/kernel')!.data;
  const weight = dense.readFloat32('linear.weight');
  assert.is(weight[1 * 16 + 2], kernel[2 * 16 + 1], 'linear.weight is [out, in]');
  assert.equal([...dense.readFloat32('linear.bias')], [...reference.weights.get('bert/pooler/dense/bias')!.data]);
  assertSameVectors(encode('export-st', ['--model', out]), tfVectors, 'sentence-transformers export');
});

/** Whether Debian's torch can run the independent checker (the test says so and skips otherwise). */
function torchAvailable(): boolean {
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status === 0) return true;
  console.log('skipped: the independent sentence-transformers check needs /usr/bin/python3 with torch (apt-get install python3-torch)');
  return false;
}

test('an independent reader (plain torch, its own safetensors parser) gets the same vectors from the sentence-transformers export', () => {
  if (!torchAvailable()) return;
  const script = join(INTEROP('..', '..', '..'), 'scripts', 'check-sentence-transformers.py');
  const result = spawnSync('/usr/bin/python3', [script, join(scratch, 'export-st'), textsPath], { encoding: 'utf8' });
  assert.is(result.status, 0, result.stderr);
  const vectors: number[][] = JSON.parse(result.stdout);
  const hidden = reference.config.hiddenSize;
  assert.is(vectors.length, reference.texts.length);
  vectors.forEach((row, text) => row.forEach((value, j) => {
    assert.ok(Math.abs(tfVectors[text * hidden + j] - value) <= 1e-4 * Math.max(1, Math.abs(value)), `text ${text} value ${j}: ${tfVectors[text * hidden + j]} vs ${value}`);
  }));
});

test('export tf: a train-style folder without optimizer slots, and the same vectors back', () => {
  const out = exportTo('export-tf', 'tf', ['--model', INTEROP('hf-safetensors')]);
  assert.equal(readdirSync(out).sort(), ['bert_config.json', 'bert_model.ckpt.data-00000-of-00001', 'bert_model.ckpt.index', 'vocab.txt']);
  const listing = runCli(['inspect-checkpoint', join(out, 'bert_model.ckpt')]);
  assert.is(listing.status, 0, listing.stderr);
  assert.not.match(listing.stdout, /adam_/);
  assertSameVectors(encode('export-tf', ['--model', out]), tfVectors, 'tf export');
});

test('train starts from a HuggingFace folder (BertModel keys: the MLM head is initialised with a warning)', () => {
  const train = join(scratch, 'train.json');
  const testPath = join(scratch, 'test.txt');
  writeFileSync(train, JSON.stringify({ a: ['我好', '你好吗'], b: ['北京天气', '天气怎么样'], c: ['去上海', '火车票'], d: ['他是我', '我是他'] }));
  writeFileSync(testPath, '我好\t你好吗\t1\n北京天气\t去上海\t0\n');
  const out = join(scratch, 'trained');
  const result = runCli(['train', '--model', INTEROP('hf-base'), '--train', train, '--test', testPath, '--out', out, '--batch-size', '4', '--maxlen', '16', '--epochs', '1']);
  assert.is(result.status, 0, result.stderr);
  assert.match(result.stderr, /hf-base\/pytorch_model\.bin has no MLM head \(BertModel keys\); it is initialised randomly/);
  assert.ok(existsSync(join(out, 'bert_model.ckpt.index')));
  encode('trained', ['--model', out]);
});

test('usage errors exit 2; an existing --out or a folder that is no model exits 1', () => {
  const usage = (args: string[], pattern: RegExp) => {
    const result = runCli(['export', ...args]);
    assert.is(result.status, 2, result.stderr);
    assert.match(errorLines(result)[0], pattern);
  };
  usage(['--model', INTEROP('hf-mlm'), '--out', join(scratch, 'x')], /^simbert export: .*--format/);
  usage(['--model', INTEROP('hf-mlm'), '--format', 'onnx', '--out', join(scratch, 'x')], /--format must be one of hf, sentence-transformers, tf, got 'onnx'/);
  usage(['--model', INTEROP('hf-mlm'), '--format', 'hf'], /--out/);
  usage(['--format', 'hf', '--out', join(scratch, 'x')], /a model needs --model DIR/);
  const exists = runCli(['export', '--model', INTEROP('hf-mlm'), '--format', 'hf', '--out', scratch]);
  assert.is(exists.status, 1);
  assert.equal(errorLines(exists), [`simbert export: ${scratch} already exists; export creates a new folder`]);
  const empty = join(scratch, 'empty');
  mkdirSync(empty);
  const notModel = runCli(['export', '--model', empty, '--format', 'hf', '--out', join(scratch, 'y')]);
  assert.is(notModel.status, 1);
  assert.match(errorLines(notModel)[0], /^simbert export: .*empty: not a model folder; expected a TensorFlow BERT folder/);
  assert.not.ok(existsSync(join(scratch, 'y')));
});

test.run();
