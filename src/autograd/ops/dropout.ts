import * as kernels from '../../kernels/dropout.js';
import { activeGpu } from '../engine.js';
import { record } from '../tape.js';
import { Tensor } from '../tensor.js';

/**
 * Inverted dropout with a seeded counter-based generator (the mask is a pure function of seed
 * and element index, so backward regenerates it instead of storing it). rate 0 returns x
 * unchanged (no copy, no node).
 */
export function dropout(x: Tensor, rate: number, seed: number): Tensor {
  kernels.dropoutParams(rate, seed); // validates before anything is allocated
  if (rate === 0) return x;
  const gpu = activeGpu();
  const out = Tensor.empty(x.shape, 'dropout');
  kernels.dropout(gpu, x.buffer, out.buffer, x.size, rate, seed);
  return record(out, [x], (grad) => {
    const dx = Tensor.empty(x.shape, 'grad');
    kernels.dropout(gpu, grad.buffer, dx.buffer, x.size, rate, seed);
    return [dx];
  });
}
