import { activeGpu } from '../src/autograd/engine.js';
import { attention, attentionBackward, setAttentionVariant, type AttentionVariant } from '../src/kernels/attention.js';
import { median } from './stats.js';

export interface AttentionResult {
  variant: AttentionVariant;
  batch: number;
  seq: number;
  heads: number;
  headDim: number;
  forwardMs: number;
  forwardGflops: number;
  backwardMs: number;
  backwardGflops: number;
}

/**
 * Fused attention forward and backward (dropout 0.1, single-segment mask) at the given size.
 * FLOPs: forward 4 B H T^2 D (scores, weighted sum); backward 14 B H T^2 D (dq pass: scores, dP, dq;
 * dk/dv pass: scores, dP, dv, dk), both as multiply-adds x 2.
 */
export async function benchAttention(variant: AttentionVariant, batch: number, seq: number, heads: number, headDim: number, samples: number): Promise<AttentionResult> {
  const gpu = activeGpu();
  const size = batch * seq * heads * headDim * 4;
  const rowBytes = batch * heads * seq * 4;
  const buffers = {
    q: gpu.allocate(size, 'q'), k: gpu.allocate(size, 'k'), v: gpu.allocate(size, 'v'), out: gpu.allocate(size, 'out'),
    lse: gpu.allocate(rowBytes, 'lse'), dout: gpu.allocate(size, 'dout'), delta: gpu.allocate(rowBytes, 'delta'),
    dq: gpu.allocate(size, 'dq'), dk: gpu.allocate(size, 'dk'), dv: gpu.allocate(size, 'dv'),
  };
  for (const buffer of Object.values(buffers)) gpu.clear(buffer);
  const ranks = gpu.upload(new Int32Array(2 * batch * seq), 'ranks');
  const dims = { batch, seq, heads, headDim };
  const drop = { rate: 0.1, seed: 1 };
  const { q, k, v, out, lse } = buffers;
  setAttentionVariant(variant);
  const forward: number[] = [];
  const backward: number[] = [];
  try {
    for (let i = -1; i < samples; i++) {
      let started = performance.now();
      attention(gpu, { q, k, v, ranks, out, lse }, dims, drop);
      await gpu.sync();
      if (i >= 0) forward.push(performance.now() - started);
      started = performance.now();
      attentionBackward(gpu, { ...buffers, ranks }, dims, drop);
      await gpu.sync();
      if (i >= 0) backward.push(performance.now() - started);
    }
  } finally {
    setAttentionVariant(null);
  }
  for (const buffer of [...Object.values(buffers), ranks]) gpu.release(buffer);
  const unit = batch * heads * seq * seq * headDim;
  const forwardMs = median(forward);
  const backwardMs = median(backward);
  return {
    variant, batch, seq, heads, headDim,
    forwardMs, forwardGflops: (4 * unit) / forwardMs / 1e6, backwardMs, backwardGflops: (14 * unit) / backwardMs / 1e6,
  };
}
