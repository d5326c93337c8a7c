import * as layerNormKernels from '../../kernels/layernorm.js';
import * as softmaxKernels from '../../kernels/softmax.js';
import { activeGpu } from '../engine.js';
import { record } from '../tape.js';
import { formatShape, Tensor } from '../tensor.js';

/** LayerNorm over the last axis with learned gamma and beta. */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps: number): Tensor {
  const cols = x.shape[x.rank - 1];
  if (gamma.size !== cols || beta.size !== cols) {
    throw new Error(`layerNorm: gamma ${formatShape(gamma.shape)} / beta ${formatShape(beta.shape)} for rows of ${cols}`);
  }
  const rows = x.size / cols;
  const gpu = activeGpu();
  const out = Tensor.empty(x.shape, 'layerNorm');
  const stats = Tensor.empty([rows, 2], 'layerNorm.stats');
  layerNormKernels.layerNorm(gpu, x.buffer, gamma.buffer, beta.buffer, out.buffer, stats.buffer, rows, cols, eps);
  return record(out, [x, gamma, beta], (grad) => {
    const dx = x.requiresGrad ? Tensor.empty(x.shape, 'grad') : null;
    const needParams = gamma.requiresGrad || beta.requiresGrad;
    const dgamma = needParams ? Tensor.empty(gamma.shape, 'grad') : null;
    const dbeta = needParams ? Tensor.empty(beta.shape, 'grad') : null;
    layerNormKernels.layerNormBackward(gpu, x.buffer, gamma.buffer, stats.buffer, grad.buffer, { dx: dx?.buffer, dgamma: dgamma?.buffer, dbeta: dbeta?.buffer }, rows, cols);
    return [dx, dgamma, dbeta];
  });
}

/** Softmax over the last axis. */
export function softmax(x: Tensor): Tensor {
  const cols = x.shape[x.rank - 1];
  const rows = x.size / cols;
  const gpu = activeGpu();
  const out = Tensor.empty(x.shape, 'softmax');
  softmaxKernels.softmax(gpu, x.buffer, out.buffer, rows, cols);
  return record(out, [x], (grad) => {
    const dx = Tensor.empty(x.shape, 'grad');
    softmaxKernels.softmaxBackward(gpu, out.buffer, grad.buffer, dx.buffer, rows, cols);
    return [dx];
  });
}
