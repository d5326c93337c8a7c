import { keep, Tensor } from '../autograd/tensor.js';
import { SeededRandom } from './random.js';
import { bertParameterShapes, type BertConfig, type BertParameter } from './config.js';

/** The model's weights by TensorFlow variable name, as GPU tensors that require gradients. */
export type BertWeights = Map<string, Tensor>;

/**
 * BERT's initialisation for a parameter that a checkpoint does not provide: truncated-normal-like
 * N(0, initializer_range) for matrices, zeros for biases and LayerNorm beta, ones for gamma.
 */
export function initialValues(parameter: BertParameter, config: BertConfig, random: SeededRandom): Float32Array {
  const size = parameter.shape.reduce((p, d) => p * d, 1);
  const name = parameter.name;
  if (name.endsWith('/gamma')) return new Float32Array(size).fill(1);
  if (name.endsWith('/beta') || name.endsWith('/bias') || name.endsWith('output_bias')) return new Float32Array(size);
  const values = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    let sample = random.nextNormal();
    while (Math.abs(sample) > 2) sample = random.nextNormal();
    values[i] = sample * config.initializerRange;
  }
  return values;
}

/** Every BERT parameter initialised at random (the demo trains from scratch). */
export function randomWeightArrays(config: BertConfig, seed: number, vocabSize = config.vocabSize): Map<string, Float32Array> {
  const random = new SeededRandom(seed);
  return new Map(bertParameterShapes(config, vocabSize).map((p) => [p.name, initialValues(p, config, random)]));
}

/** Uploads host arrays as trainable tensors, checking every expected name and shape. */
export function uploadWeights(config: BertConfig, arrays: Map<string, Float32Array>, vocabSize = config.vocabSize): BertWeights {
  const weights: BertWeights = new Map();
  for (const parameter of bertParameterShapes(config, vocabSize)) {
    const data = arrays.get(parameter.name);
    if (!data) throw new Error(`missing weight ${parameter.name} [${parameter.shape.join(', ')}]`);
    const size = parameter.shape.reduce((p, d) => p * d, 1);
    if (data.length !== size) {
      throw new Error(`weight ${parameter.name} has ${data.length} values, expected [${parameter.shape.join(', ')}] = ${size}`);
    }
    weights.set(parameter.name, keep(Tensor.fromArray(data, parameter.shape, { requiresGrad: true, label: parameter.name })));
  }
  return weights;
}

/** Reads every weight back to the host (for checkpoints). */
export async function downloadWeights(weights: BertWeights): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, tensor] of weights) out.set(name, { shape: [...tensor.shape], data: await tensor.toArray() });
  return out;
}
