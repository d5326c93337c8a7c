import { record } from '../tape.js';
import type { Tensor } from '../tensor.js';

/** The same values with another shape of equal size, sharing storage. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const out = x.view(shape);
  return record(out, [x], (grad) => [grad.view(x.shape)]);
}
