import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { scope } from '../../src/autograd/tensor.js';
import { SimBert } from '../../src/model/bert.js';
import { writeCheckpoint } from '../../src/node/checkpoint-writer.js';
import { bertParameterShapes, parseBertConfig } from '../../src/model/config.js';
import { openCheckpoint } from '../../src/node/checkpoint-files.js';
import { loadBertConfig } from '../../src/node/config-file.js';
import { loadWeightArrays } from '../../src/model/load.js';
import { randomWeightArrays, uploadWeights } from '../../src/model/parameters.js';
import { testGpu } from '../support/engine.js';
import { sharedFixture } from '../support/fixtures.js';

const tinyBert = sharedFixture('tf-ckpt-tiny-bert');

const config = parseBertConfig(
  { vocab_size: 9, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 12, max_position_embeddings: 16, type_vocab_size: 2 },
  'test config',
);

test.before(async () => {
  await testGpu();
});

test('keep_tokens gathers rows of word_embeddings and entries of output_bias', () => {
  const dir = mkdtempSync(join(tmpdir(), 'simbert-load-'));
  try {
    const arrays = randomWeightArrays(config, 3);
    arrays.set('cls/predictions/output_bias', Float32Array.from({ length: 9 }, (_, i) => i * 10));
    writeCheckpoint(join(dir, 'model.ckpt'), bertParameterShapes(config).map((p) => ({ name: p.name, shape: p.shape, data: arrays.get(p.name)! })));
    const reader = openCheckpoint(join(dir, 'model.ckpt'));
    const keep = [0, 5, 2, 8];
    const loaded = loadWeightArrays(reader, config, { keepTokens: keep });
    reader.close();
    assert.equal([...loaded.get('cls/predictions/output_bias')!], [0, 50, 20, 80]);
    const words = arrays.get('bert/embeddings/word_embeddings')!;
    const gathered = loaded.get('bert/embeddings/word_embeddings')!;
    assert.is(gathered.length, keep.length * 8);
    keep.forEach((row, i) => assert.equal([...gathered.subarray(i * 8, i * 8 + 8)], [...words.subarray(row * 8, row * 8 + 8)]));
    assert.equal([...loaded.get('bert/pooler/dense/kernel')!], [...arrays.get('bert/pooler/dense/kernel')!]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing pooler is an error naming it, or a warning with allowMissing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'simbert-load-'));
  try {
    const arrays = randomWeightArrays(config, 4);
    const tensors = bertParameterShapes(config).filter((p) => !p.name.startsWith('bert/pooler')).map((p) => ({ name: p.name, shape: p.shape, data: arrays.get(p.name)! }));
    writeCheckpoint(join(dir, 'model.ckpt'), tensors);
    const reader = openCheckpoint(join(dir, 'model.ckpt'));
    assert.throws(() => loadWeightArrays(reader, config), /bert\/pooler\/dense\/kernel \[8, 8\] is missing/);
    const warnings: string[] = [];
    const loaded = loadWeightArrays(reader, config, { allowMissing: true, warn: (m) => warnings.push(m) });
    reader.close();
    assert.ok(warnings.some((w) => w.includes('bert/pooler/dense/kernel')), warnings.join('\n'));
    assert.is(loaded.get('bert/pooler/dense/kernel')!.length, 64);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

(tinyBert ? test : test.skip)('the TensorFlow tiny BERT loads into the model and runs forward with finite outputs', async () => {
  const tinyConfig = loadBertConfig(join(tinyBert!, 'bert_config.json'));
  const reader = openCheckpoint(join(tinyBert!, 'bert_model.ckpt'));
  const model = new SimBert(tinyConfig, uploadWeights(tinyConfig, loadWeightArrays(reader, tinyConfig)));
  reader.close();
  // Ids are arbitrary within the 15-token vocab: two (a,b),(b,a) pairs padded with 0 to 7 tokens.
  const tokenIds = [
    2, 5, 6, 3, 7, 3, 0,
    2, 7, 3, 5, 6, 3, 0,
    2, 8, 3, 9, 3, 0, 0,
    2, 9, 3, 8, 3, 0, 0,
  ];
  const segmentIds = [
    0, 0, 0, 0, 1, 1, 0,
    0, 0, 0, 1, 1, 1, 0,
    0, 0, 0, 1, 1, 0, 0,
    0, 0, 0, 1, 1, 0, 0,
  ];
  const [total, pooled] = scope(() => {
    const out = model.loss({ batch: 4, seqLen: 7, tokenIds, segmentIds }, { training: false });
    return [out.total, out.pooled];
  });
  const loss = await total.item();
  const vectors = await pooled.toArray();
  assert.ok(Number.isFinite(loss) && loss > 0, `loss ${loss}`);
  assert.ok(vectors.every(Number.isFinite));
  assert.is(vectors.length, 4 * 4);
  for (const t of [total, pooled, ...model.weights.values()]) t.release();
});

test.run();
