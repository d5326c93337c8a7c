/**
 * Runs in the page (bundled by bench/browser.ts): encode timing of a random-weight model on the
 * page's WebGPU adapter, the same measurement as benchEncode in bench/step.ts.
 */
import { initEngine } from '../src/autograd/engine.js';
import { noGrad } from '../src/autograd/tape.js';
import { scope } from '../src/autograd/tensor.js';
import { describeAdapter } from '../src/browser/adapter-info.js';
import { SimBert } from '../src/model/bert.js';
import type { BertConfig } from '../src/model/config.js';
import { randomWeightArrays, uploadWeights } from '../src/model/parameters.js';

export interface PageBatch {
  rows: number;
  tokens: number;
  tokenIds: number[];
  segmentIds: number[];
}

export async function benchEncodeInPage(config: BertConfig, input: PageBatch, samples: number) {
  const gpu = await initEngine((globalThis as unknown as { navigator: { gpu: GPU } }).navigator.gpu);
  const model = new SimBert(config, uploadWeights(config, randomWeightArrays(config, 7)));
  const batch = { batch: input.rows, seqLen: input.tokens, tokenIds: Int32Array.from(input.tokenIds), segmentIds: Int32Array.from(input.segmentIds) };
  const encode = async () => {
    const pooled = noGrad(() => scope(() => model.encode(batch, { training: false, pooledOnly: true }).pooled));
    await pooled.toArray();
    pooled.release();
  };
  await encode();
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const started = performance.now();
    await encode();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  const medianMs = times[Math.floor(times.length / 2)] as number;
  return { medianMs, sentencesPerSecond: (input.rows * 1000) / medianMs, adapter: describeAdapter(gpu) };
}
