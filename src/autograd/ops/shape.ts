import { transpose2d } from '../../kernels/transpose.js';
import { activeGpu } from '../engine.js';
import { record } from '../tape.js';
import { formatShape, Tensor } from '../tensor.js';

/** The same values with another shape of equal size, sharing storage. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const out = x.view(shape);
  return record(out, [x], (grad) => [grad.view(x.shape)]);
}

/** The transpose of a matrix [rows, cols] -> [cols, rows], in new storage. */
export function transpose(x: Tensor): Tensor {
  if (x.rank !== 2) throw new Error(`transpose: ${formatShape(x.shape)} is not a matrix`);
  const [rows, cols] = x.shape;
  const gpu = activeGpu();
  const out = Tensor.empty([cols, rows], 'transpose');
  transpose2d(gpu, x.buffer, out.buffer, rows, cols);
  return record(out, [x], (grad) => {
    const dx = Tensor.empty(x.shape, 'grad');
    transpose2d(gpu, grad.buffer, dx.buffer, cols, rows);
    return [dx];
  });
}
