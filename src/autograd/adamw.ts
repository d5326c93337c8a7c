import type { PooledBuffer } from '../gpu/pool.js';
import { adamwStep } from '../kernels/adamw.js';
import { activeGpu } from './engine.js';
import { formatShape, type Tensor } from './tensor.js';

export interface AdamWOptions {
  lr: number;
  weightDecay: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

export interface AdamWState {
  step: number;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

interface Moments {
  m: PooledBuffer;
  v: PooledBuffer;
}

/**
 * bert4keras's Adam with weight decay: m, v updated; mhat = m / (1 - b1^t), vhat = v / (1 - b2^t);
 * p -= lr * (mhat / (sqrt(vhat) + eps) + wd * p) with the parameter before the step, on every
 * parameter that has a gradient. `step` records one fused kernel per parameter and reads nothing
 * back; it leaves the gradients in place (clearing them is the caller's business).
 * Moments live in pool buffers owned by the optimizer (outside any tensor scope) until `release`.
 */
export class AdamW {
  private readonly params: Map<string, Tensor>;
  private readonly moments = new Map<string, Moments>();
  private lr: number;
  private readonly weightDecay: number;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;
  private steps = 0;

  constructor(params: Map<string, Tensor>, options: AdamWOptions) {
    this.params = new Map(params);
    this.lr = options.lr;
    this.weightDecay = options.weightDecay;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-6;
    for (const [name, value] of Object.entries({ lr: this.lr, weightDecay: this.weightDecay, epsilon: this.epsilon })) {
      if (!Number.isFinite(value) || value < 0) throw new Error(`AdamW: ${name} must be a finite number >= 0, got ${value}`);
    }
    for (const [name, value] of Object.entries({ beta1: this.beta1, beta2: this.beta2 })) {
      if (!(value >= 0 && value < 1)) throw new Error(`AdamW: ${name} must be in [0, 1), got ${value}`);
    }
  }

  get stepCount(): number {
    return this.steps;
  }

  setLearningRate(lr: number): void {
    if (!Number.isFinite(lr) || lr < 0) throw new Error(`AdamW: learning rate must be a finite number >= 0, got ${lr}`);
    this.lr = lr;
  }

  step(): void {
    const gpu = activeGpu();
    this.steps++;
    for (const [name, param] of this.params) {
      const grad = param.grad;
      if (!grad) continue;
      if (grad.size !== param.size) {
        throw new Error(`AdamW: gradient ${formatShape(grad.shape)} of '${name}' does not match the parameter ${formatShape(param.shape)}`);
      }
      const moments = this.momentsOf(name, param);
      adamwStep(gpu, param.buffer, grad.buffer, moments.m, moments.v, param.size, {
        lr: this.lr, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, weightDecay: this.weightDecay, step: this.steps,
      });
    }
  }

  /** The step count and both moments of every parameter (zeros for one never updated). */
  async exportState(): Promise<AdamWState> {
    const gpu = activeGpu();
    const m = new Map<string, Float32Array>();
    const v = new Map<string, Float32Array>();
    for (const [name, param] of this.params) {
      const moments = this.moments.get(name);
      m.set(name, moments ? new Float32Array(await gpu.read(moments.m, param.size * 4)) : new Float32Array(param.size));
      v.set(name, moments ? new Float32Array(await gpu.read(moments.v, param.size * 4)) : new Float32Array(param.size));
    }
    return { step: this.steps, m, v };
  }

  /** Restores a state from `exportState`; parameters it does not mention start from zero moments. */
  importState(state: AdamWState): void {
    if (!Number.isInteger(state.step) || state.step < 0) throw new Error(`AdamW state: step must be an integer >= 0, got ${state.step}`);
    for (const [kind, map] of [['m', state.m], ['v', state.v]] as const) {
      for (const [name, values] of map) {
        const param = this.params.get(name);
        if (!param) throw new Error(`AdamW state: ${kind} of unknown parameter '${name}'`);
        if (values.length !== param.size) {
          throw new Error(`AdamW state: ${kind} of '${name}' has ${values.length} values, the parameter ${formatShape(param.shape)} has ${param.size}`);
        }
      }
    }
    const gpu = activeGpu();
    // Queue writes overtake commands still being recorded: submit those first.
    gpu.submit();
    for (const [name, param] of this.params) {
      const m = state.m.get(name);
      const v = state.v.get(name);
      if (!m && !v) {
        this.dropMoments(name);
        continue;
      }
      const moments = this.momentsOf(name, param, false);
      gpu.write(moments.m, m ?? new Float32Array(param.size));
      gpu.write(moments.v, v ?? new Float32Array(param.size));
    }
    this.steps = state.step;
  }

  release(): void {
    for (const name of [...this.moments.keys()]) this.dropMoments(name);
  }

  private momentsOf(name: string, param: Tensor, clear = true): Moments {
    let moments = this.moments.get(name);
    if (!moments) {
      const gpu = activeGpu();
      const bytes = param.size * 4;
      moments = { m: gpu.allocate(bytes, `adamw.m ${name}`), v: gpu.allocate(bytes, `adamw.v ${name}`) };
      if (clear) {
        gpu.clear(moments.m);
        gpu.clear(moments.v);
      }
      this.moments.set(name, moments);
    }
    return moments;
  }

  private dropMoments(name: string): void {
    const moments = this.moments.get(name);
    if (!moments) return;
    activeGpu().release(moments.m);
    activeGpu().release(moments.v);
    this.moments.delete(name);
  }
}
