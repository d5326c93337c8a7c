/**
 * The kernels on a device that looks like a browser's compatibility-mode adapter (no subgroups,
 * ANGLE's and SwiftShader's smaller limits), against the CLI on the full lavapipe device.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { initEngine } from '../../src/autograd/engine.js';
import { attentionVariant } from '../../src/kernels/attention.js';
import { matmul } from '../../src/autograd/ops/matmul.js';
import { Tensor } from '../../src/autograd/tensor.js';
import { matmulVariant, setMatmulVariant, tiledDepth } from '../../src/kernels/matmul.js';
import { nodeGpu } from '../../src/node/gpu.js';
import { loadModel } from '../../src/node/load-model.js';
import { SimBert } from '../../src/model/bert.js';
import { uploadWeights } from '../../src/model/parameters.js';
import { Tokenizer } from '../../src/model/tokenizer.js';
import { encodeTexts } from '../../src/train/encode.js';
import { assertClose } from '../support/compare.js';
import { forEachForced } from '../support/forced.js';
import { randomArray } from '../support/random.js';
import * as ref from '../support/reference.js';
import { errorLines, runCli, writeTinyModel } from '../support/tiny-model.js';

const scratch = mkdtempSync(join(tmpdir(), 'simbert-compat-'));
const model = writeTinyModel(join(scratch, 'tiny'), { seed: 4, hidden: 32, heads: 4, layers: 2 });
const TEXTS = ['你好吗', '我们去哪里', '他是谁', '这个多少人', '请问怎么去'];

test('a compatibility-like device without subgroups encodes as the full device does', async () => {
  const gpu = await initEngine(nodeGpu(), {
    restrict: {
      subgroups: false,
      compatibility: true,
      limits: { maxComputeInvocationsPerWorkgroup: 256, maxStorageBuffersPerShaderStage: 10, maxStorageTexturesPerShaderStage: 4, maxStorageBufferBindingSize: 128 * 1024 ** 2, maxComputeWorkgroupStorageSize: 16384 },
    },
  });
  assert.is(gpu.capabilities.subgroupSize, 0);
  assert.is(gpu.capabilities.compatibility, true);
  assert.is(gpu.device.limits.maxComputeInvocationsPerWorkgroup, 256);
  assert.is(matmulVariant(gpu), 'register');
  assert.is(attentionVariant(gpu), 'rows');
  const loaded = await loadModel({ model: model.dir });
  const bert = new SimBert(loaded.config, uploadWeights(loaded.config, loaded.weights));
  const vectors = await encodeTexts(bert, new Tokenizer(loaded.vocab), TEXTS, { maxlen: 32 });

  const textsFile = join(scratch, 'texts.txt');
  writeFileSync(textsFile, `${TEXTS.join('\n')}\n`);
  const cli = runCli(['encode', '--model', model.dir, '--texts', textsFile, '--format', 'jsonl', '--maxlen', '32']);
  assert.is(cli.status, 0, errorLines(cli).join('\n'));
  const hidden = loaded.config.hiddenSize;
  cli.stdout.trim().split('\n').forEach((line, row) => {
    const reference = (JSON.parse(line) as { vector: number[] }).vector;
    const scale = Math.max(...reference.map(Math.abs));
    const worst = Math.max(...reference.map((value, i) => Math.abs(value - (vectors[row * hidden + i] as number))));
    assert.ok(worst <= 1e-4 * scale, `${TEXTS[row]}: ${worst} vs scale ${scale}`);
  });
});

test('with 16 KiB of workgroup memory the tiled matmul stages 16-deep slices and matches the CPU', async () => {
  const { activeGpu } = await import('../../src/autograd/engine.js');
  assert.is(tiledDepth(activeGpu().device.limits.maxComputeWorkgroupStorageSize), 16);
  // K = 37: two whole slices and a tail; M and N not multiples of the 64 x 64 tile.
  const [m, k, n] = [70, 37, 67];
  const a = randomArray(m * k, 1);
  const b = randomArray(k * n, 2);
  for (const [transA, transB] of [[false, false], [true, false], [false, true]]) {
    const ta = Tensor.fromArray(a, transA ? [k, m] : [m, k]);
    const tb = Tensor.fromArray(b, transB ? [n, k] : [k, n]);
    await forEachForced(['tiled'] as const, setMatmulVariant, async () => {
      const out = matmul(ta, tb, { transA, transB });
      assertClose(await out.toArray(), ref.matmul(a, b, { batch: 1, m, k, n, transA, transB }), `tiled transA=${transA} transB=${transB}`, { rtol: 1e-5, atol: 1e-4 });
      out.release();
    });
    ta.release();
    tb.release();
  }
});

test('a kernel beyond the device limits fails with a message naming the limit', async () => {
  const { activeGpu } = await import('../../src/autograd/engine.js');
  const wgsl = '@group(0) @binding(0) var<storage, read_write> x: array<f32>;\n@compute @workgroup_size(512) fn main() { x[0] = 1.0; }';
  assert.throws(() => activeGpu().kernel({ name: 'too-wide', wgsl }), /kernel too-wide needs 512 invocations per workgroup \(the device allows 256\)/);
});

test.after(() => rmSync(scratch, { recursive: true, force: true }));
test.run();
