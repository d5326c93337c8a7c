import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SimBert } from '../../src/model/bert.js';
import { parseBertConfig } from '../../src/model/config.js';
import { randomWeightArrays, uploadWeights } from '../../src/model/parameters.js';
import { Tokenizer } from '../../src/model/tokenizer.js';
import { buildVocab } from '../../src/model/vocab.js';
import type { RunOutput, SavedModel } from '../../src/train/run-output.js';
import { train } from '../../src/train/trainer.js';
import { testGpu } from '../support/engine.js';
import { TINY_MODEL_CHARACTERS } from '../support/tiny-model.js';

test('a GPU device lost mid-step stops training with a message saying so, promptly, and no checkpoint follows it', async () => {
  const gpu = await testGpu();
  const { vocab } = buildVocab(['[PAD]', '[UNK]', '[CLS]', '[SEP]', ...TINY_MODEL_CHARACTERS]);
  const config = parseBertConfig({
    vocab_size: vocab.tokens.length, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32,
    max_position_embeddings: 32, type_vocab_size: 2, initializer_range: 0.3,
  }, 'tiny config');
  const weights = randomWeightArrays(config, 3);
  const model = new SimBert(config, uploadWeights(config, weights));
  const checkpoints: number[] = [];
  const output: RunOutput = {
    appendMetrics: () => undefined,
    writeCheckpoint: (saved: SavedModel) => {
      checkpoints.push(saved.trainerState!.step);
      return `memory:${saved.trainerState!.step}`;
    },
  };
  const groups = [['我们', '你们'], ['他们', '她们'], ['你好', '您好'], ['天下', '上下']];
  const training = train({
    model, tokenizer: new Tokenizer(vocab), groups, test: null, output, data: { train: 'memory', test: null },
    loaded: { config, vocab, weights, optimizer: null, description: 'tiny' },
    options: { maxlen: 16, batchSize: 4, epochs: 5, stepsPerEpoch: 2, lr: 1e-3, weightDecay: 0, threshold: 0.8, seed: 1, shuffle: true },
    events: {
      step: (record) => {
        // The device goes away while step 4 is on the GPU (steps are read back a step late).
        if (record.step === 3) gpu.device.destroy();
      },
    },
  });
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('training still waits on the lost device after 60 s')), 60000).unref());
  let failure: Error | null = null;
  try {
    await Promise.race([training, timeout]);
  } catch (error) {
    failure = error as Error;
  }
  assert.ok(failure, 'training must not complete on a lost device');
  assert.match(failure!.message, /GPU device lost/);
  assert.equal(checkpoints, [2], 'the checkpoint of epoch 1 stays the last one');
});

test.run();
