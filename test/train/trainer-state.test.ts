import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PairBatcher } from '../../src/train/batches.js';
import { parseTrainerState, serializeTrainerState, type TrainerState } from '../../src/train/trainer-state.js';

const batcher = new PairBatcher([['我们', '你们'], ['他们', '她们'], ['你好', '您好']], { batchSize: 2, seed: 3 });
batcher.next();
batcher.next();
const valid: TrainerState = {
  version: 1, step: 2, epoch: 1, bestAccuracy: 0.75, batcher: batcher.state(),
  options: { maxlen: 32, batchSize: 2, epochs: 3, lr: 1e-3, weightDecay: 0.01, threshold: 0.8, seed: 3, shuffle: true, skipNonfinite: 0 },
  data: { train: '/data/train.json', test: null }, optimizerStep: 2, skippedSteps: 0, losses: { first: 9.5, recent: [3.5, 3.25] },
};
const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

test('a saved state parses back to itself', () => {
  assert.equal(parseTrainerState(serializeTrainerState(valid), 'trainer-state.json'), valid);
});

function refused(name: string, edit: (state: Record<string, any>) => void, pattern: RegExp): void {
  test(`refused: ${name}`, () => {
    const state = JSON.parse(JSON.stringify(valid));
    edit(state);
    assert.throws(() => parseTrainerState(bytes(state), 'run/trainer-state.json'), (error: Error) => pattern.test(error.message) && error.message.startsWith('run/trainer-state.json: '));
  });
}

refused('a step that is not a number', (s) => (s.step = 'abc'), /"step" must be an integer .* got "abc"/);
refused('more epochs than steps', (s) => (s.epoch = 9), /"epoch" must be an integer in \[0, 2\]/);
refused('a batcher behind the step', (s) => (s.batcher.step = 1), /"batcher.step" must be the state's step 2/);
refused('an odd batch size', (s) => (s.options.batchSize = 3), /"options.batchSize" must be even/);
refused('a negative learning rate', (s) => (s.options.lr = -1), /"options.lr" must be a positive number/);
refused('a group order out of range', (s) => (s.batcher.order[0] = 7), /"batcher.order\[0\]" must be an integer in \[0, 2\]/);
refused('a missing random state', (s) => delete s.batcher.random, /"batcher.random" must be an object, got nothing/);
refused('a train file that is not a string', (s) => (s.data.train = 5), /"data.train" must be a non-empty string/);
refused('an accuracy above 1', (s) => (s.bestAccuracy = 2), /"bestAccuracy" must be null or a number in \[0, 1\]/);
refused('a non-finite recent loss', (s) => (s.losses.recent = [1, null]), /"losses.recent\[1\]" must be a finite number/);

test('broken bytes name the file', () => {
  assert.throws(() => parseTrainerState(new TextEncoder().encode('{"step": 1'), 'x/trainer-state.json'), /^x\/trainer-state.json: not valid JSON/);
  assert.throws(() => parseTrainerState(new Uint8Array([0x7b, 0xff, 0x7d]), 'x/trainer-state.json'), /^x\/trainer-state.json: not valid UTF-8/);
  assert.throws(() => parseTrainerState(bytes([1, 2]), 'x/trainer-state.json'), /"\(top level\)" must be an object/);
});

test.run();
