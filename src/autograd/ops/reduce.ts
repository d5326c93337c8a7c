import { fillFromScalar } from '../../kernels/elementwise.js';
import { sumAll } from '../../kernels/reduce.js';
import { activeGpu } from '../engine.js';
import { record } from '../tape.js';
import { Tensor } from '../tensor.js';

function reduceAll(x: Tensor, alpha: number, name: string): Tensor {
  const gpu = activeGpu();
  const out = Tensor.empty([1], name);
  sumAll(gpu, x.buffer, out.buffer, x.size, alpha);
  return record(out, [x], (grad) => {
    const gradX = Tensor.empty(x.shape, 'grad');
    fillFromScalar(gpu, grad.buffer, gradX.buffer, x.size, alpha);
    return [gradX];
  });
}

/** The sum of every element, as a [1] tensor. */
export function sum(x: Tensor): Tensor {
  return reduceAll(x, 1, 'sum');
}

/** The mean of every element, as a [1] tensor. */
export function mean(x: Tensor): Tensor {
  return reduceAll(x, 1 / x.size, 'mean');
}
