import * as kernels from '../../kernels/attention.js';
import { activeGpu } from '../engine.js';
import { record } from '../tape.js';
import { formatShape, Tensor } from '../tensor.js';

export interface AttentionMask {
  batch: number;
  seqLen: number;
  /** row-major [batch, seqLen] */
  tokenIds: ArrayLike<number>;
  segmentIds: ArrayLike<number>;
}

const PADDING_RANK = 0x7fffffff;

/** Query ranks (cumsum of segment ids) then key ranks (the same, or i32 max for padding). */
function maskRanks(mask: AttentionMask): Int32Array {
  const { batch, seqLen } = mask;
  const ranks = new Int32Array(2 * batch * seqLen);
  for (let b = 0; b < batch; b++) {
    let cumulative = 0;
    for (let t = 0; t < seqLen; t++) {
      const index = b * seqLen + t;
      cumulative += mask.segmentIds[index];
      ranks[index] = cumulative;
      ranks[batch * seqLen + index] = mask.tokenIds[index] === 0 ? PADDING_RANK : cumulative;
    }
  }
  return ranks;
}

/**
 * q, k, v: [batch, seqLen, hidden] (heads are contiguous slices of hidden: head h uses columns
 * h*d..h*d+d-1, as BERT reshapes). Returns context [batch, seqLen, hidden].
 * Scores q.k / sqrt(d); UniLM mask with c = cumsum(segmentIds) per row: query i attends key j iff
 * c[j] <= c[i] and tokenIds[j] != 0 (masked keys get probability exactly 0; a query with no
 * visible key gets zeros). Dropout, if given, applies to the softmax weights.
 */
export function unilmAttention(
  q: Tensor, k: Tensor, v: Tensor, heads: number, mask: AttentionMask, dropout?: { rate: number; seed: number },
): Tensor {
  if (q.rank !== 3) throw new Error(`unilmAttention: q must be [batch, seqLen, hidden], got ${formatShape(q.shape)}`);
  for (const [name, t] of [['k', k], ['v', v]] as const) {
    if (t.rank !== 3 || t.shape.some((dim, i) => dim !== q.shape[i])) {
      throw new Error(`unilmAttention: ${name} ${formatShape(t.shape)} does not match q ${formatShape(q.shape)}`);
    }
  }
  const [batch, seq, hidden] = q.shape;
  if (!Number.isInteger(heads) || heads < 1 || hidden % heads !== 0) throw new Error(`unilmAttention: ${heads} heads do not divide hidden size ${hidden}`);
  if (mask.batch !== batch || mask.seqLen !== seq) {
    throw new Error(`unilmAttention: mask is [${mask.batch}, ${mask.seqLen}], q is ${formatShape(q.shape)}`);
  }
  if (mask.tokenIds.length !== batch * seq || mask.segmentIds.length !== batch * seq) {
    throw new Error(`unilmAttention: mask needs ${batch * seq} token and segment ids, got ${mask.tokenIds.length} and ${mask.segmentIds.length}`);
  }
  const dims: kernels.AttentionDims = { batch, seq, heads, headDim: hidden / heads };
  const drop = dropout && dropout.rate > 0 ? { rate: dropout.rate, seed: dropout.seed } : undefined;
  const gpu = activeGpu();
  const out = Tensor.empty(q.shape, 'attention');
  const lse = Tensor.empty([batch, heads, seq], 'attention.lse');
  // Raw i32 storage; a Tensor so that the enclosing scope owns it until the backward is done.
  const ranks = new Tensor([2 * batch * seq], gpu.upload(maskRanks(mask), `attention.ranks [2, ${batch}, ${seq}]`));
  kernels.attention(gpu, { q: q.buffer, k: k.buffer, v: v.buffer, ranks: ranks.buffer, out: out.buffer, lse: lse.buffer }, dims, drop);
  record(out, [q, k, v], (grad) => {
    const dq = Tensor.empty(q.shape, 'grad');
    const dk = Tensor.empty(k.shape, 'grad');
    const dv = Tensor.empty(v.shape, 'grad');
    const delta = Tensor.empty([batch, heads, seq], 'attention.delta');
    kernels.attentionBackward(
      gpu,
      {
        q: q.buffer, k: k.buffer, v: v.buffer, ranks: ranks.buffer, out: out.buffer, lse: lse.buffer, dout: grad.buffer,
        delta: delta.buffer, dq: dq.buffer, dk: dk.buffer, dv: dv.buffer,
      },
      dims, drop,
    );
    delta.release();
    return [dq, dk, dv];
  });
  if (!out.producedByOp) for (const saved of [lse, ranks]) saved.release();
  return out;
}
