import type { Gpu } from '../gpu/device.js';
import type { PooledBuffer } from '../gpu/pool.js';
import { dispatchPerElement, ELEMENT_BUILTINS, elementForms, elementLoop, type ElementType } from './common.js';

/**
 * One AdamW step on one parameter, fused: moments, bias correction, the Adam update and the
 * decoupled weight decay (computed from the parameter before this step), all in place.
 */

/** The kernel over elements of type `element` (f32, or vec4f for four at once) from index `first`. */
function adamwWgsl(element: ElementType): string {
  return /* wgsl */ `
struct Params {
  n: u32,
  first: u32,
  lr: f32,
  beta1: f32,
  beta2: f32,
  epsilon: f32,
  weight_decay: f32,
  one_minus_beta1: f32,
  one_minus_beta2: f32,
  inv_correction1: f32,
  inv_correction2: f32,
}
@group(0) @binding(0) var<storage, read_write> param: array<${element}>;
@group(0) @binding(1) var<storage, read> grad: array<${element}>;
@group(0) @binding(2) var<storage, read_write> m: array<${element}>;
@group(0) @binding(3) var<storage, read_write> v: array<${element}>;
@group(0) @binding(4) var<uniform> params: Params;

fn update(i: u32) {
  let g = grad[i];
  let m_t = params.beta1 * m[i] + params.one_minus_beta1 * g;
  let v_t = params.beta2 * v[i] + params.one_minus_beta2 * g * g;
  m[i] = m_t;
  v[i] = v_t;
  let m_hat = m_t * params.inv_correction1;
  let v_hat = v_t * params.inv_correction2;
  let p = param[i];
  param[i] = p - params.lr * (m_hat / (sqrt(v_hat) + params.epsilon) + params.weight_decay * p);
}

@compute @workgroup_size(64)
fn main(${ELEMENT_BUILTINS}) {
  ${elementLoop('params.n', 'update(params.first + j);')}
}`;
}

const ADAMW = elementForms('adamw', adamwWgsl);

export interface AdamWStep {
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
  /** The step number, counting from 1, for the bias corrections 1 - beta^t. */
  step: number;
}

/** Updates param, m and v (n elements each) in place from grad. */
export function adamwStep(gpu: Gpu, param: PooledBuffer, grad: PooledBuffer, m: PooledBuffer, v: PooledBuffer, n: number, s: AdamWStep): void {
  if (!(s.step >= 1)) throw new Error(`adamw: step must count from 1, got ${s.step}`);
  const uniforms = {
    lr: s.lr,
    beta1: s.beta1,
    beta2: s.beta2,
    epsilon: s.epsilon,
    weight_decay: s.weightDecay,
    // From float64: 1 - f32(0.999) would be off by 1.3e-5 relative.
    one_minus_beta1: 1 - s.beta1,
    one_minus_beta2: 1 - s.beta2,
    inv_correction1: 1 / (1 - s.beta1 ** s.step),
    inv_correction2: 1 / (1 - s.beta2 ** s.step),
  };
  dispatchPerElement(gpu, ADAMW, { param, grad, m, v }, n, () => uniforms);
}
