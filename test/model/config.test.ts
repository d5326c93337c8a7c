import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CheckpointError } from '../../src/model/checkpoint/index.js';
import { writeCheckpoint } from '../../src/node/checkpoint-writer.js';
import {
  bertConfigToJson, bertParameterShapes, ConfigError, isOptimizerState, parseBertConfig, parseBertConfigBytes,
  validateCheckpointAgainstConfig, type BertConfig,
} from '../../src/model/config.js';
import { openCheckpoint } from '../../src/node/checkpoint-files.js';
import { loadBertConfig } from '../../src/node/config-file.js';
import { sharedFixture } from '../support/fixtures.js';

const tinyBert = sharedFixture('tf-ckpt-tiny-bert');
const googleIndex = sharedFixture('google-chinese-bert-index');

const tinyJson = {
  vocab_size: 15, hidden_size: 4, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 16,
  hidden_act: 'gelu', hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1, max_position_embeddings: 16,
  type_vocab_size: 2, initializer_range: 0.02,
};

function withTempDir<T>(body: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'simbert-config-'));
  try {
    return body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function configError(body: () => unknown, pattern: RegExp): void {
  assert.throws(body, (error: unknown) => {
    assert.ok(error instanceof ConfigError, `not a ConfigError: ${error}`);
    assert.match((error as Error).message, pattern);
    return true;
  });
}

test('parses every key, from text or an object, and converts back', () => {
  const config = parseBertConfig(JSON.stringify(tinyJson), 'tiny.json');
  assert.equal(config, {
    vocabSize: 15, hiddenSize: 4, numHiddenLayers: 2, numAttentionHeads: 4, intermediateSize: 16, hiddenAct: 'gelu',
    hiddenDropoutProb: 0.1, attentionProbsDropoutProb: 0.1, maxPositionEmbeddings: 16, typeVocabSize: 2, initializerRange: 0.02,
  });
  assert.equal(parseBertConfig(tinyJson, 'tiny.json'), config);
  assert.equal(bertConfigToJson(config), tinyJson);
});

test("optional keys take Google BERT's defaults", () => {
  const { hidden_act: _a, hidden_dropout_prob: _h, attention_probs_dropout_prob: _p, initializer_range: _r, ...required } = tinyJson;
  const config = parseBertConfig(required, 'minimal.json');
  assert.is(config.hiddenAct, 'gelu');
  assert.is(config.hiddenDropoutProb, 0.1);
  assert.is(config.attentionProbsDropoutProb, 0.1);
  assert.is(config.initializerRange, 0.02);
});

test('errors name the file and the key', () => {
  const { vocab_size: _v, ...noVocab } = tinyJson;
  configError(() => parseBertConfig(noVocab, 'a/bert_config.json'), /^a\/bert_config\.json: "vocab_size" is missing$/);
  configError(() => parseBertConfig({ ...tinyJson, hidden_size: 4.5 }, 'c.json'), /^c\.json: "hidden_size" must be a positive integer, got 4\.5$/);
  configError(() => parseBertConfig({ ...tinyJson, num_hidden_layers: '2' }, 'c.json'), /"num_hidden_layers" must be a positive integer, got "2"/);
  configError(() => parseBertConfig({ ...tinyJson, intermediate_size: 0 }, 'c.json'), /"intermediate_size" must be a positive integer/);
  configError(() => parseBertConfig({ ...tinyJson, hidden_size: 6 }, 'c.json'), /^c\.json: "hidden_size" \(6\) must be divisible by "num_attention_heads" \(4\)$/);
  configError(() => parseBertConfig({ ...tinyJson, hidden_dropout_prob: 1 }, 'c.json'), /"hidden_dropout_prob" must be a probability in \[0, 1\), got 1/);
  configError(() => parseBertConfig({ ...tinyJson, attention_probs_dropout_prob: -0.1 }, 'c.json'), /"attention_probs_dropout_prob" must be a probability/);
  configError(() => parseBertConfig({ ...tinyJson, hidden_act: 'gleu' }, 'c.json'), /"hidden_act" must be one of gelu, .*got "gleu"/);
  configError(() => parseBertConfig({ ...tinyJson, initializer_range: 0 }, 'c.json'), /"initializer_range" must be a positive number/);
  configError(() => parseBertConfig('{"vocab_size": 3,', 'broken.json'), /^broken\.json: not valid JSON/);
  configError(() => parseBertConfig([1, 2], 'list.json'), /^list\.json: expected a JSON object/);
  configError(() => parseBertConfig({ ...tinyJson, num_hidden_layers: 2000000000 }, 'c.json'), /^c\.json: "num_hidden_layers" is 2000000000, more than the 1024 this reader accepts$/);
  configError(() => parseBertConfig({ ...tinyJson, vocab_size: 2 ** 40 }, 'c.json'), /^c\.json: "vocab_size" is 1099511627776, more than the 1048576 this reader accepts$/);
  configError(() => parseBertConfigBytes(Uint8Array.from([0x7b, 0xff, 0x7d]), 'bytes.json'), /^bytes\.json: not valid UTF-8$/);
  assert.is(parseBertConfigBytes(new TextEncoder().encode(JSON.stringify(tinyJson)), 'bytes.json').hiddenSize, 4);
  configError(() => loadBertConfig('/no/such/bert_config.json'), /^\/no\/such\/bert_config\.json: no such file$/);
});

test('parameter names and shapes of a BERT with pooler and MLM head', () => {
  const config = parseBertConfig(tinyJson, 'tiny.json');
  const parameters = bertParameterShapes(config);
  assert.is(parameters.length, 5 + 16 * 2 + 2 + 5);
  const shapes = new Map(parameters.map((p) => [p.name, p.shape]));
  assert.is(shapes.size, parameters.length);
  assert.equal(shapes.get('bert/embeddings/word_embeddings'), [15, 4]);
  assert.equal(shapes.get('bert/embeddings/token_type_embeddings'), [2, 4]);
  assert.equal(shapes.get('bert/embeddings/position_embeddings'), [16, 4]);
  assert.equal(shapes.get('bert/encoder/layer_1/attention/self/value/kernel'), [4, 4]);
  assert.equal(shapes.get('bert/encoder/layer_0/intermediate/dense/kernel'), [4, 16]);
  assert.equal(shapes.get('bert/encoder/layer_0/intermediate/dense/bias'), [16]);
  assert.equal(shapes.get('bert/encoder/layer_1/output/dense/kernel'), [16, 4]);
  assert.equal(shapes.get('bert/encoder/layer_1/output/LayerNorm/gamma'), [4]);
  assert.equal(shapes.get('bert/pooler/dense/kernel'), [4, 4]);
  assert.equal(shapes.get('cls/predictions/transform/LayerNorm/beta'), [4]);
  assert.equal(shapes.get('cls/predictions/output_bias'), [15]);
  assert.ok(!shapes.has('bert/encoder/layer_2/output/dense/bias'));
  const simplified = new Map(bertParameterShapes(config, 9).map((p) => [p.name, p.shape]));
  assert.equal(simplified.get('bert/embeddings/word_embeddings'), [9, 4]);
  assert.equal(simplified.get('cls/predictions/output_bias'), [9]);
  assert.equal(parameters.filter((p) => p.group === 'pooler').map((p) => p.name), ['bert/pooler/dense/kernel', 'bert/pooler/dense/bias']);
  assert.is(parameters.filter((p) => p.group === 'mlm').length, 5);
});

test('optimizer state is recognised and ignored', () => {
  for (const name of ['global_step', 'bert/pooler/dense/kernel/adam_m', 'bert/pooler/dense/kernel/adam_v', 'beta1_power', 'w/Adam_1']) {
    assert.ok(isOptimizerState(name), name);
  }
  for (const name of ['bert/pooler/dense/kernel', 'cls/predictions/output_bias', 'adam_m_layer/kernel']) assert.not.ok(isOptimizerState(name), name);
});

(googleIndex ? test : test.skip)('Google Chinese BERT: config and 206-entry index agree without the data file', () => {
  const config = loadBertConfig(join(googleIndex!, 'bert_config.json'));
  assert.is(config.vocabSize, 21128);
  assert.is(config.hiddenSize, 768);
  assert.is(bertParameterShapes(config).length, 204);
  const reader = openCheckpoint(join(googleIndex!, 'bert_model.ckpt'));
  assert.is(reader.hasData, false);
  const result = validateCheckpointAgainstConfig(reader, config);
  assert.equal(result, { problems: [], warnings: [], unused: ['cls/seq_relationship/output_bias', 'cls/seq_relationship/output_weights'] });
  // The same index against a config with a different vocabulary is refused, naming both tensors.
  assert.throws(() => validateCheckpointAgainstConfig(reader, { ...config, vocabSize: 13584 }), (error: unknown) =>
    error instanceof CheckpointError &&
    /bert_model\.ckpt does not match the BERT config \(2 problems\)/.test(error.message) &&
    error.message.includes('bert/embeddings/word_embeddings has shape [21128, 768], expected [13584, 768]') &&
    error.message.includes('cls/predictions/output_bias has shape [21128], expected [13584]'));
  reader.close();
});

(tinyBert ? test : test.skip)('TF tiny BERT: passes validation, Adam slots and global_step ignored', () => {
  const config = loadBertConfig(join(tinyBert!, 'bert_config.json'));
  const reader = openCheckpoint(join(tinyBert!, 'bert_model.ckpt'));
  const result = validateCheckpointAgainstConfig(reader, config);
  assert.equal(result.problems, []);
  assert.equal(result.unused, ['cls/seq_relationship/output_bias', 'cls/seq_relationship/output_weights']);
  reader.close();
});

test('missing, misshapen and non-float tensors; allowMissing turns missing heads into warnings', () => {
  const config: BertConfig = parseBertConfig(tinyJson, 'tiny.json');
  withTempDir((dir) => {
    const parameters = bertParameterShapes(config).filter((p) => p.group !== 'pooler' && p.name !== 'cls/predictions/output_bias');
    const tensors = parameters.map((p) => {
      const shape = p.name === 'bert/encoder/layer_1/attention/self/key/bias' ? [5] : p.shape;
      return { name: p.name, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) };
    });
    const prefix = join(dir, 'model.ckpt');
    writeCheckpoint(prefix, tensors);
    const reader = openCheckpoint(prefix);
    assert.throws(() => validateCheckpointAgainstConfig(reader, config), (error: unknown) => {
      assert.ok(error instanceof CheckpointError);
      const message = (error as Error).message;
      assert.match(message, /\(4 problems\)/);
      for (const expected of [
        'bert/encoder/layer_1/attention/self/key/bias has shape [5], expected [4]',
        'bert/pooler/dense/kernel [4, 4] is missing',
        'bert/pooler/dense/bias [4] is missing',
        'cls/predictions/output_bias [15] is missing',
      ]) assert.ok(message.includes(expected), `${expected} not in:\n${message}`);
      return true;
    });
    const lenient = validateCheckpointAgainstConfig(reader, config, { allowMissing: true, throwOnProblems: false });
    assert.equal(lenient.problems, ['bert/encoder/layer_1/attention/self/key/bias has shape [5], expected [4]']);
    assert.equal(lenient.warnings.length, 3);
    assert.match(lenient.warnings[0], /bert\/pooler\/dense\/kernel \[4, 4\] is missing; it will be initialised randomly/);
    reader.close();

    // A body tensor is never optional, and a non-float32 tensor is a problem.
    const withoutEmbeddings = { prefix: 'fake', tensors: [], get: () => undefined };
    const strict = validateCheckpointAgainstConfig(withoutEmbeddings, config, { allowMissing: true, throwOnProblems: false });
    assert.ok(strict.problems.includes('bert/embeddings/word_embeddings [15, 4] is missing'));
    const wrongDtype = {
      prefix: 'fake', tensors: [],
      get: (name: string) => ({ name, dtype: 'float16', tfDtype: 19, shape: [4], shardId: 0, offset: 0, byteSize: 8, crc32c: 0, partitioned: false }),
    };
    assert.ok(validateCheckpointAgainstConfig(wrongDtype, config, { throwOnProblems: false }).problems.includes('bert/embeddings/LayerNorm/gamma is float16, expected float32'));
  });
});

test('loadBertConfig reads a file and names it in errors', () => {
  withTempDir((dir) => {
    const path = join(dir, 'bert_config.json');
    writeFileSync(path, JSON.stringify({ ...tinyJson, num_attention_heads: 3 }));
    configError(() => loadBertConfig(path), new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: "hidden_size" \\(4\\) must be divisible`));
    writeFileSync(path, JSON.stringify(tinyJson));
    assert.is(loadBertConfig(path).numHiddenLayers, 2);
  });
});

test.run();
