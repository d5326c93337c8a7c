/**
 * Runs in the page (bundled by bench/browser.ts): encode timing of a random-weight model on the
 * page's WebGPU adapter, the same measurement as benchEncode in bench/step.ts.
 */
import { initEngine } from '../src/autograd/engine.js';
import { describeAdapter } from '../src/browser/adapter-info.js';
import { SimBert } from '../src/model/bert.js';
import { convertForInference } from '../src/model/inference.js';
import type { BertConfig } from '../src/model/config.js';
import { randomWeightArrays, uploadWeights } from '../src/model/parameters.js';
import { medianEncodeMs } from './encode-timing.js';

export interface PageBatch {
  rows: number;
  tokens: number;
  tokenIds: number[];
  segmentIds: number[];
}

export async function benchEncodeInPage(config: BertConfig, input: PageBatch, samples: number) {
  const gpu = await initEngine((globalThis as unknown as { navigator: { gpu: GPU } }).navigator.gpu);
  // As loadModel gives it: dense kernels in the inference layout.
  const model = convertForInference(new SimBert(config, uploadWeights(config, randomWeightArrays(config, 7))));
  const batch = { batch: input.rows, seqLen: input.tokens, tokenIds: Int32Array.from(input.tokenIds), segmentIds: Int32Array.from(input.segmentIds) };
  const medianMs = await medianEncodeMs(model, batch, samples);
  return { medianMs, sentencesPerSecond: (input.rows * 1000) / medianMs, adapter: describeAdapter(gpu) };
}
