import { prefersTransposedKernels } from '../autograd/ops/matmul.js';
import { transpose } from '../autograd/ops/shape.js';
import { noGrad } from '../autograd/tape.js';
import { keep, type Tensor } from '../autograd/tensor.js';
import { SimBert } from './bert.js';
import type { BertWeights } from './parameters.js';

/*
 * Inference (encoding, generation) reads each dense kernel only as the second operand of a
 * matmul, which the texture matmul (software adapters) reads fastest stored [out, in] rather than
 * TensorFlow's [in, out]: ~30 % faster at the ~100 rows of a decoding step, ~15 % at a few
 * thousand. On a GPU whose matmul has no such preference both functions leave the model as it is.
 */

function isDenseKernel(name: string, weight: Tensor): boolean {
  return name.endsWith('/kernel') && weight.rank === 2;
}

function isMemoryLimit(error: unknown): boolean {
  return error instanceof Error && error.name === 'MemoryLimitError';
}

/** The inference copy of a model and the release of what it added. */
export interface InferenceModel {
  model: SimBert;
  release(): void;
}

/**
 * A view of `model` for inference whose dense kernels are transposed copies, marked constant; the
 * other weights are shared (and keep training). It holds a second set of dense kernels, so it is
 * for a model that keeps training (its evaluations, `--show-samples`); the weights must not change
 * while the view is in use. When the memory cap has no room for the copies, the model itself is
 * used.
 */
export function inferenceModel(model: SimBert): InferenceModel {
  if (model.transposedKernels || !prefersTransposedKernels()) return { model, release: () => undefined };
  const copies: Tensor[] = [];
  const release = () => {
    for (const copy of copies) copy.release();
  };
  try {
    const weights: BertWeights = new Map();
    noGrad(() => {
      for (const [name, weight] of model.weights) {
        if (!isDenseKernel(name, weight)) {
          weights.set(name, weight);
          continue;
        }
        const copy = keep(transpose(weight));
        copy.constant = true;
        copies.push(copy);
        weights.set(name, copy);
      }
    });
    return { model: new SimBert(model.config, weights, true), release };
  } catch (error) {
    release();
    if (isMemoryLimit(error)) return { model, release: () => undefined };
    throw error;
  }
}

/**
 * Converts a model that will only run inference (the CLI's encode, eval, similar, generate; a
 * page's model) to transposed dense kernels in place of its own: each kernel is released as soon
 * as its copy exists, so at most one extra kernel is held at a time. Every weight of a converted
 * model is marked constant (the texture matmul then keeps one texture copy of each instead of copying it
 * at every use, while the memory cap has room). `model` must not be used after.
 */
export function convertForInference(model: SimBert): SimBert {
  if (model.transposedKernels || !prefersTransposedKernels()) return model;
  noGrad(() => {
    for (const [name, weight] of model.weights) {
      if (!isDenseKernel(name, weight)) continue;
      model.weights.set(name, keep(transpose(weight)));
      weight.release();
    }
  });
  for (const weight of model.weights.values()) weight.constant = true;
  return new SimBert(model.config, model.weights, true);
}
