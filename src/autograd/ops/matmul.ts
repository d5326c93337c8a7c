import { geluBackward } from '../../kernels/elementwise.js';
import * as kernels from '../../kernels/matmul.js';
import { sumRows } from '../../kernels/reduce.js';
import { activeGpu } from '../engine.js';
import { record } from '../tape.js';
import { formatShape, Tensor } from '../tensor.js';

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
}

/**
 * Matrix product of the last two axes: a [..., M, K] (or [..., K, M] with transA) times
 * b [..., K, N] (or [..., N, K] with transB); leading (batch) axes must match.
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  if (a.rank < 2 || a.rank !== b.rank) throw new Error(`matmul: ranks of ${formatShape(a.shape)} and ${formatShape(b.shape)} must match and be >= 2`);
  const batchShape = a.shape.slice(0, -2);
  if (batchShape.some((dim, i) => dim !== b.shape[i])) {
    throw new Error(`matmul: batch axes of ${formatShape(a.shape)} and ${formatShape(b.shape)} differ`);
  }
  const [aRows, aCols] = a.shape.slice(-2);
  const [bRows, bCols] = b.shape.slice(-2);
  const m = options.transA ? aCols : aRows;
  const k = options.transA ? aRows : aCols;
  const kB = options.transB ? bCols : bRows;
  const n = options.transB ? bRows : bCols;
  if (k !== kB) throw new Error(`matmul: inner sizes differ: ${formatShape(a.shape)}${options.transA ? 'ᵀ' : ''} x ${formatShape(b.shape)}${options.transB ? 'ᵀ' : ''}`);
  const batch = batchShape.reduce((p, d) => p * d, 1);
  const shape: kernels.MatmulShape = { batch, m, k, n, transA: options.transA, transB: options.transB };
  const gpu = activeGpu();
  const out = Tensor.empty([...batchShape, m, n], 'matmul');
  kernels.matmul(gpu, a.buffer, b.buffer, out.buffer, shape);
  return record(out, [a, b], (grad) => {
    const dA = a.requiresGrad ? Tensor.empty(a.shape, 'grad') : null;
    const dB = b.requiresGrad ? Tensor.empty(b.shape, 'grad') : null;
    kernels.matmulBackward(gpu, a.buffer, b.buffer, grad.buffer, shape, { dA: dA?.buffer, dB: dB?.buffer });
    return [dA, dB];
  });
}

/**
 * Whether this GPU's matmul reads a dense kernel faster stored [N, K] (`linear`'s transposedKernel)
 * than as TensorFlow stores it, [K, N]: true for the texture version (software adapters).
 */
export function prefersTransposedKernels(): boolean {
  return kernels.matmulVariant(activeGpu()) === 'texture';
}

/**
 * A dense layer over the last axis, as TensorFlow stores it: y = act(x @ kernel + bias) with
 * x [..., K], kernel [K, N], bias [N]; bias and GELU run in the matmul's epilogue. With
 * `transposedKernel` the kernel is stored [N, K] (an output layer tied to an embedding table).
 */
export function linear(x: Tensor, kernel: Tensor, bias?: Tensor, activation: kernels.Activation = 'none', transposedKernel = false): Tensor {
  const [k, n] = transposedKernel ? [kernel.shape[1], kernel.shape[0]] : kernel.shape;
  if (kernel.rank !== 2 || x.shape[x.rank - 1] !== k) {
    throw new Error(`linear: ${formatShape(x.shape)} x kernel ${formatShape(kernel.shape)}${transposedKernel ? 'ᵀ' : ''}`);
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== n)) throw new Error(`linear: bias ${formatShape(bias.shape)} for ${n} outputs`);
  const rows = x.size / k;
  const gpu = activeGpu();
  const outShape = [...x.shape.slice(0, -1), n];
  const out = Tensor.empty(outShape, 'linear');
  const pre = activation === 'gelu' ? Tensor.empty(outShape, 'linear.pre') : null;
  const shape: kernels.MatmulShape = { batch: 1, m: rows, k, n, transB: transposedKernel, constantB: kernel.constant };
  kernels.matmul(gpu, x.buffer, kernel.buffer, out.buffer, shape, { bias: bias?.buffer, activation, preActivation: pre?.buffer });
  const inputs = bias ? [x, kernel, bias] : [x, kernel];
  return record(out, inputs, (grad) => {
    let dOut = grad;
    if (pre) {
      dOut = Tensor.empty(outShape, 'grad');
      geluBackward(gpu, pre.buffer, grad.buffer, dOut.buffer, grad.size);
    }
    const dX = x.requiresGrad ? Tensor.empty(x.shape, 'grad') : null;
    const dKernel = kernel.requiresGrad ? Tensor.empty(kernel.shape, 'grad') : null;
    kernels.matmulBackward(gpu, x.buffer, kernel.buffer, dOut.buffer, shape, { dA: dX?.buffer, dB: dKernel?.buffer });
    let dBias: Tensor | null = null;
    if (bias?.requiresGrad) {
      dBias = Tensor.empty(bias.shape, 'grad');
      sumRows(gpu, dOut.buffer, dBias.buffer, rows, n);
    }
    if (dOut !== grad) dOut.release();
    return bias ? [dX, dKernel, dBias] : [dX, dKernel];
  });
}
