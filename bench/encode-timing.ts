/**
 * The encoding measurement shared by the Node bench (bench/step.ts) and the page
 * (bench/browser-page.ts): pooled vectors of one batch, no grad, read back; one warm-up run, then
 * the median of `samples` timed runs. Imports nothing of Node, so the page bundle can hold it.
 */
import { noGrad } from '../src/autograd/tape.js';
import { scope } from '../src/autograd/tensor.js';
import type { BertBatch, SimBert } from '../src/model/bert.js';
import { median } from './stats.js';

export async function medianEncodeMs(model: SimBert, batch: BertBatch, samples: number): Promise<number> {
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
  return median(times);
}
