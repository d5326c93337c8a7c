import * as kernels from '../../kernels/elementwise.js';
import { sumRows } from '../../kernels/reduce.js';
import { activeGpu } from '../engine.js';
import { record } from '../tape.js';
import { formatShape, Tensor } from '../tensor.js';

/** b broadcasts against a when its shape is a suffix of a's (a bias over rows, or the same shape). */
function checkBroadcast(name: string, a: Tensor, b: Tensor): void {
  const suffix = a.shape.slice(a.rank - b.rank);
  if (b.rank > a.rank || suffix.some((dim, i) => dim !== b.shape[i])) {
    throw new Error(`${name}: ${formatShape(b.shape)} does not broadcast against ${formatShape(a.shape)}`);
  }
}

/** A new tensor holding the gradient of a (possibly broadcast) operand: `grad` summed over the rows it was repeated across. */
function gradientOfOperand(grad: Tensor, operand: Tensor): Tensor {
  const result = Tensor.empty(operand.shape, 'grad');
  if (operand.size === grad.size) activeGpu().copy(grad.buffer, result.buffer, grad.size * 4);
  else sumRows(activeGpu(), grad.buffer, result.buffer, grad.size / operand.size, operand.size);
  return result;
}

export function add(a: Tensor, b: Tensor): Tensor {
  checkBroadcast('add', a, b);
  const out = Tensor.empty(a.shape, 'add');
  kernels.add(activeGpu(), a.buffer, b.buffer, out.buffer, a.size, b.size);
  return record(out, [a, b], (grad) => {
    // a's gradient is the output's gradient itself, passed through.
    return [a.requiresGrad ? grad : null, b.requiresGrad ? gradientOfOperand(grad, b) : null];
  });
}

export function mul(a: Tensor, b: Tensor): Tensor {
  checkBroadcast('mul', a, b);
  const gpu = activeGpu();
  const out = Tensor.empty(a.shape, 'mul');
  kernels.mul(gpu, a.buffer, b.buffer, out.buffer, a.size, b.size);
  return record(out, [a, b], (grad) => {
    let gradA: Tensor | null = null;
    let gradB: Tensor | null = null;
    if (a.requiresGrad) {
      gradA = Tensor.empty(a.shape, 'grad');
      kernels.mul(gpu, grad.buffer, b.buffer, gradA.buffer, a.size, b.size);
    }
    if (b.requiresGrad) {
      const product = Tensor.empty(a.shape, 'grad');
      kernels.mul(gpu, grad.buffer, a.buffer, product.buffer, a.size);
      if (b.size === a.size) gradB = product;
      else {
        gradB = gradientOfOperand(product, b);
        product.release();
      }
    }
    return [gradA, gradB];
  });
}

export function scale(a: Tensor, alpha: number): Tensor {
  const gpu = activeGpu();
  const out = Tensor.empty(a.shape, 'scale');
  kernels.scale(gpu, a.buffer, out.buffer, a.size, alpha);
  return record(out, [a], (grad) => {
    const gradA = Tensor.empty(a.shape, 'grad');
    kernels.scale(gpu, grad.buffer, gradA.buffer, a.size, alpha);
    return [gradA];
  });
}

export function gelu(x: Tensor): Tensor {
  const gpu = activeGpu();
  const out = Tensor.empty(x.shape, 'gelu');
  kernels.gelu(gpu, x.buffer, out.buffer, x.size);
  return record(out, [x], (grad) => {
    const gradX = Tensor.empty(x.shape, 'grad');
    kernels.geluBackward(gpu, x.buffer, grad.buffer, gradX.buffer, x.size);
    return [gradX];
  });
}
