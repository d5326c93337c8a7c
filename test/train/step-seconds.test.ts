import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SimBert } from '../../src/model/bert.js';
import { parseBertConfig } from '../../src/model/config.js';
import { randomWeightArrays, uploadWeights } from '../../src/model/parameters.js';
import { Tokenizer } from '../../src/model/tokenizer.js';
import { train, type StepRecord } from '../../src/train/trainer.js';
import { testGpu } from '../support/engine.js';

const gpu = await testGpu();

/** A kernel that keeps the GPU busy: one invocation running a dependent chain of `n` FMAs. */
const SPIN = /* wgsl */ `
struct Params { n: u32 }
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<uniform> params: Params;
@compute @workgroup_size(1)
fn main() {
  var x = out[0];
  for (var i = 0u; i < params.n; i++) { x = fma(x, 0.999999, 1e-6); }
  out[0] = x;
}`;
const spinOut = gpu.allocate(4, 'spin');
gpu.clear(spinOut);
const spin = (n: number) => gpu.dispatch(gpu.kernel({ name: 'spin', wgsl: SPIN }), { out: spinOut, params: { n } }, [1]);

/** The spin length that keeps the GPU busy for at least 800 ms here and now, and how long it took. */
async function calibrateSpin(): Promise<{ n: number; ms: number }> {
  spin(1); // compiles the pipeline outside the timing
  await gpu.sync();
  for (let n = 1 << 22; ; n *= 2) {
    const started = performance.now();
    spin(n);
    await gpu.sync();
    const ms = performance.now() - started;
    if (ms >= 800 || n >= 2 ** 31) return { n, ms };
  }
}

const characters = Array.from({ length: 40 }, (_, i) => String.fromCodePoint(0x4e00 + i));
const tokens = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', ...characters];
const vocab = { tokens, ids: new Map(tokens.map((token, id) => [token, id])) };
const config = parseBertConfig({
  vocab_size: tokens.length, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32,
  hidden_act: 'gelu', hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1, max_position_embeddings: 32,
  type_vocab_size: 2, initializer_range: 0.02,
}, 'test config');
const groups = Array.from({ length: 12 }, (_, g) => [0, 1, 2].map((t) => characters.slice((g + t) % 30, ((g + t) % 30) + 4 + t).join('')));
const trainOptions = { maxlen: 24, batchSize: 4, epochs: 1, stepsPerEpoch: 6, lr: 1e-3, weightDecay: 0.01, threshold: 0.8, seed: 1, shuffle: true };

test("each step's seconds is its own wall time, not its neighbour's, when steps overlap on the GPU", async () => {
  const weights = randomWeightArrays(config, 3);
  const model = new SimBert(config, uploadWeights(config, weights));

  const { n, ms: spinMs } = await calibrateSpin();
  // The third step also runs the spin kernel: it alone is slow.
  const slowStep = 3;
  const loss = model.loss.bind(model);
  let calls = 0;
  model.loss = (batch, options) => {
    const out = loss(batch, options);
    if (++calls === slowStep) spin(n);
    return out;
  };
  const records: StepRecord[] = [];
  await train({
    model, tokenizer: new Tokenizer(vocab), loaded: { config, vocab, weights, optimizer: null, description: 'test' },
    groups, test: null, output: null, data: { train: 'test groups', test: null },
    options: trainOptions,
    events: { step: (record) => records.push(record) },
  });
  for (const weight of model.weights.values()) weight.release();

  const seconds = records.map((r) => r.seconds * 1000);
  const message = `step ms ${seconds.map((s) => s.toFixed(0)).join(', ')}; the spin alone took ${spinMs.toFixed(0)} ms`;
  assert.equal(records.map((r) => r.step), [1, 2, 3, 4, 5, 6]);
  // Bounds far apart: a loaded machine runs the spin at another speed than it was calibrated at.
  assert.ok(seconds[slowStep - 1] >= 0.5 * spinMs, `the slow step is charged its own time: ${message}`);
  // Step 1 compiles the pipelines, so it is slow in its own right.
  for (const [index, ms] of seconds.entries()) {
    if (index > 0 && index !== slowStep - 1) assert.ok(ms < 0.25 * spinMs, `step ${index + 1} is not charged the slow step's time: ${message}`);
  }
});

test('the first step is back before the second is recorded; later steps overlap', async () => {
  const weights = randomWeightArrays(config, 5);
  const model = new SimBert(config, uploadWeights(config, weights));
  const order: string[] = [];
  const loss = model.loss.bind(model);
  let calls = 0;
  model.loss = (batch, options) => {
    order.push(`record ${++calls}`);
    return loss(batch, options);
  };
  await train({
    model, tokenizer: new Tokenizer(vocab), loaded: { config, vocab, weights, optimizer: null, description: 'test' },
    groups, test: null, output: null, data: { train: 'test groups', test: null },
    options: { ...trainOptions, stepsPerEpoch: 4 },
    events: { step: (record) => order.push(`back ${record.step}`) },
  });
  for (const weight of model.weights.values()) weight.release();
  assert.equal(order, ['record 1', 'back 1', 'record 2', 'record 3', 'back 2', 'record 4', 'back 3', 'back 4']);
});

test.after(() => gpu.release(spinOut));
test.run();
