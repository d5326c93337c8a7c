import { add } from '../kernels/elementwise.js';
import { activeGpu } from './engine.js';
import { formatShape, keep, Tensor } from './tensor.js';

/**
 * The tape: every differentiable op that runs while gradients are enabled appends a node with
 * its backward. Nodes are recorded in execution order, so walking them backwards is a valid
 * topological order for `backward`.
 */
interface TapeNode {
  inputs: readonly Tensor[];
  output: Tensor;
  /**
   * Gradients for each input (null where the input needs none), given the output's gradient.
   * `accumulated[j]`, where not null, is the gradient input j has gathered so far from other
   * uses; a backward may add into it in place and return it as its result for input j, which
   * saves a zeroed buffer and an addition (the embedding table's scatter-add does).
   */
  backward: (gradOutput: Tensor, accumulated: readonly (Tensor | null)[]) => (Tensor | null)[];
}

let nodes: TapeNode[] = [];
let gradientsEnabled = true;

/** Runs `body` without recording anything on the tape (evaluation, optimizer updates). */
export function noGrad<T>(body: () => T): T {
  const previous = gradientsEnabled;
  gradientsEnabled = false;
  try {
    return body();
  } finally {
    gradientsEnabled = previous;
  }
}

/** Records an op's backward when any input needs a gradient; returns the output. */
export function record(output: Tensor, inputs: readonly Tensor[], backward: TapeNode['backward']): Tensor {
  if (gradientsEnabled && inputs.some((input) => input.requiresGrad)) {
    output.requiresGrad = true;
    output.producedByOp = true;
    nodes.push({ inputs, output, backward });
  }
  return output;
}

/** Forgets every recorded node (the tensors they saved belong to their scopes). */
export function clearTape(): void {
  nodes = [];
}

/** A leaf's gradient must own its storage: a view's base belongs to the step's scope. */
function owned(grad: Tensor): Tensor {
  if (!grad.isView) return grad;
  const copy = Tensor.empty(grad.shape, 'grad');
  activeGpu().copy(grad.buffer, copy.buffer, grad.size * 4);
  return copy;
}

function accumulate(into: Tensor, grad: Tensor): Tensor {
  const sum = Tensor.empty(into.shape, 'grad');
  add(activeGpu(), into.buffer, grad.buffer, sum.buffer, into.size);
  into.release();
  grad.release();
  return sum;
}

/**
 * Backpropagates from `output` (a seed gradient of ones for a scalar, or `seed`), accumulating
 * into `.grad` of every leaf tensor that requires it; the tape is cleared afterwards.
 * Intermediate gradients are released as soon as they have been used.
 */
export function backward(output: Tensor, seed?: Tensor): void {
  if (!output.requiresGrad) throw new Error('backward() on a tensor that does not require a gradient');
  let start: Tensor;
  if (seed) {
    if (seed.size !== output.size) throw new Error(`seed ${formatShape(seed.shape)} does not match output ${formatShape(output.shape)}`);
    // A copy, so that gradients passed through from it never alias the caller's tensor.
    start = Tensor.empty(output.shape, 'grad seed');
    activeGpu().copy(seed.buffer, start.buffer, seed.size * 4);
  } else {
    if (output.size !== 1) throw new Error(`backward() without a seed needs a scalar, got ${formatShape(output.shape)}`);
    start = Tensor.fromArray([1], output.shape, { label: 'grad seed' });
  }
  const grads = new Map<Tensor, Tensor>([[output, start]]);
  const recorded = nodes;
  nodes = [];
  for (let i = recorded.length - 1; i >= 0; i--) {
    const node = recorded[i];
    const gradOutput = grads.get(node.output);
    if (!gradOutput) continue;
    grads.delete(node.output);
    const accumulated = node.inputs.map((input) => {
      const sofar = input.requiresGrad ? (input.producedByOp ? grads.get(input) : input.grad) : null;
      // A view shares its storage with another gradient: never offered for writing.
      return sofar && !sofar.isView ? sofar : null;
    });
    const inputGrads = node.backward(gradOutput, accumulated);
    // A backward may pass its gradient through as a view (reshape); the scope frees it then.
    const passedThrough = inputGrads.some((grad) => grad !== null && grad.buffer === gradOutput.buffer);
    if (!passedThrough) gradOutput.release();
    node.inputs.forEach((input, j) => {
      const grad = inputGrads[j];
      if (!grad || grad === accumulated[j]) return;
      if (!input.requiresGrad) {
        grad.release();
        return;
      }
      if (input.producedByOp) {
        const existing = grads.get(input);
        grads.set(input, existing ? accumulate(existing, grad) : grad);
      } else {
        input.grad = keep(input.grad ? accumulate(input.grad, grad) : owned(grad));
      }
    });
  }
  for (const [tensor, grad] of grads) {
    if (!tensor.producedByOp && tensor.requiresGrad) tensor.grad = keep(tensor.grad ? accumulate(tensor.grad, grad) : owned(grad));
    else grad.release();
  }
}
