import * as xent from '../../kernels/softmax-xent.js';
import * as similarity from '../../kernels/similarity.js';
import { activeGpu } from '../engine.js';
import { record } from '../tape.js';
import { formatShape, Tensor } from '../tensor.js';

/**
 * logits [n, vocab]; targets length n (host ints; -1 = ignored row). Mean cross-entropy over the
 * rows that are not ignored, with an exact log-softmax; returns [1] (0 when every row is
 * ignored). A logits tensor larger than one storage binding is refused: chunk the rows.
 */
export function softmaxCrossEntropy(logits: Tensor, targets: ArrayLike<number>): Tensor {
  if (logits.rank !== 2) throw new Error(`softmaxCrossEntropy: logits must be [rows, vocab], got ${formatShape(logits.shape)}`);
  const [rows, vocab] = logits.shape;
  if (targets.length !== rows) throw new Error(`softmaxCrossEntropy: ${targets.length} targets for ${rows} rows`);
  const ids = new Int32Array(rows);
  let count = 0;
  for (let r = 0; r < rows; r++) {
    const target = targets[r];
    if (!Number.isInteger(target) || target < -1 || target >= vocab) {
      throw new Error(`softmaxCrossEntropy: target ${target} of row ${r} is not -1 or a class in [0, ${vocab})`);
    }
    ids[r] = target;
    if (target >= 0) count++;
  }
  const invCount = count === 0 ? 0 : 1 / count;
  const gpu = activeGpu();
  const loss = Tensor.empty([1], 'softmaxCrossEntropy');
  const lse = Tensor.empty([rows], 'softmaxCrossEntropy.lse');
  const losses = Tensor.empty([rows], 'softmaxCrossEntropy.rows');
  // Raw i32 storage; a Tensor so that the enclosing scope owns it until the backward is done.
  const targetIds = new Tensor([rows], gpu.upload(ids, `softmaxCrossEntropy.targets [${rows}]`));
  xent.softmaxCrossEntropy(gpu, logits.buffer, targetIds.buffer, lse.buffer, losses.buffer, loss.buffer, rows, vocab, invCount);
  losses.release();
  record(loss, [logits], (grad) => {
    const dlogits = Tensor.empty(logits.shape, 'grad');
    xent.softmaxCrossEntropyBackward(gpu, logits.buffer, targetIds.buffer, lse.buffer, grad.buffer, dlogits.buffer, rows, vocab, invCount);
    return [dlogits];
  });
  if (!loss.producedByOp) for (const saved of [lse, targetIds]) saved.release();
  return loss;
}

/**
 * pooled [rows, hidden], rows even; rows 2k, 2k+1 are a pair. z = l2normalise(pooled) (Keras:
 * x / sqrt(max(sum x^2, 1e-12))); S = scale * (z z^T - 1e12 I); mean over rows of
 * CE(S[i], target i^1). Returns [1].
 */
export function similarityLoss(pooled: Tensor, scale = 30): Tensor {
  if (pooled.rank !== 2) throw new Error(`similarityLoss: pooled must be [rows, hidden], got ${formatShape(pooled.shape)}`);
  const [rows, hidden] = pooled.shape;
  const gpu = activeGpu();
  const loss = Tensor.empty([1], 'similarityLoss');
  const stats = Tensor.empty([rows, 2], 'similarityLoss.stats');
  const probs = Tensor.empty([rows, rows], 'similarityLoss.probs');
  similarity.similarityLoss(gpu, pooled.buffer, stats.buffer, probs.buffer, loss.buffer, rows, hidden, scale);
  record(loss, [pooled], (grad) => {
    const dx = Tensor.empty(pooled.shape, 'grad');
    similarity.similarityLossBackward(gpu, pooled.buffer, stats.buffer, probs.buffer, grad.buffer, dx.buffer, rows, hidden, scale);
    return [dx];
  });
  if (!loss.producedByOp) for (const saved of [stats, probs]) saved.release();
  return loss;
}
