import { backward, clearTape, noGrad } from './tape.js';
import { scope, Tensor } from './tensor.js';

export interface GradcheckOptions {
  /** Central-difference step. */
  step?: number;
  /** At most this many coordinates of each input are perturbed (chosen at random). */
  samplesPerInput?: number;
  seed?: number;
}

export interface GradcheckResult {
  /**
   * Worst |analytic - numeric| over the checked coordinates, relative to the largest analytic
   * gradient of the same input (per-coordinate ratios are ill-conditioned where a gradient is ~0).
   */
  worstRelativeError: number;
  worstAbsoluteError: number;
  checked: number;
}

/** mulberry32: a tiny seeded uniform [0, 1) generator, so checks (and test inputs) reproduce. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Compares the tape's gradients with central differences. The objective is
 * sum(f(inputs) * R) for a fixed random R, evaluated in float64 on the host, so only f's own
 * float32 rounding enters the numeric derivative.
 */
export async function gradcheck(
  f: (inputs: Tensor[]) => Tensor,
  inputs: { data: Float32Array; shape: number[] }[],
  options: GradcheckOptions = {},
): Promise<GradcheckResult> {
  const step = options.step ?? 1e-2;
  const samples = options.samplesPerInput ?? 24;
  const rand = mulberry32(options.seed ?? 1);

  const evaluate = async (values: Float32Array[], weights: Float64Array | null): Promise<{ out: Float32Array; objective: number }> => {
    const output = scope(() => noGrad(() => f(values.map((data, i) => Tensor.fromArray(data, inputs[i].shape)))));
    const out = await output.toArray();
    output.release();
    let objective = 0;
    if (weights) for (let i = 0; i < out.length; i++) objective += out[i] * weights[i];
    return { out, objective };
  };

  const values = inputs.map((input) => Float32Array.from(input.data));
  const first = await evaluate(values, null);
  const weights = Float64Array.from(first.out, () => rand() * 2 - 1);

  const leaves = values.map((data, i) => Tensor.fromArray(data, inputs[i].shape, { requiresGrad: true }));
  const analytic = await (async () => {
    const output = scope(() => {
      const out = f(leaves);
      const seed = Tensor.fromArray(Float32Array.from(weights), out.shape);
      backward(out, seed);
      seed.release();
      return out;
    });
    output.release();
    clearTape();
    const grads: Float32Array[] = [];
    for (const leaf of leaves) {
      grads.push(leaf.grad ? await leaf.grad.toArray() : new Float32Array(leaf.size));
      leaf.grad?.release();
      leaf.release();
    }
    return grads;
  })();

  let worstRelativeError = 0;
  let worstAbsoluteError = 0;
  let checked = 0;
  for (let i = 0; i < values.length; i++) {
    const count = values[i].length;
    const scale = Math.max(1e-6, ...Array.from(analytic[i], Math.abs));
    const coordinates = count <= samples ? [...Array(count).keys()] : Array.from({ length: samples }, () => Math.floor(rand() * count));
    for (const c of coordinates) {
      const original = values[i][c];
      values[i][c] = original + step;
      const above = values[i][c]; // rounded to float32
      const plus = (await evaluate(values, weights)).objective;
      values[i][c] = original - step;
      const below = values[i][c];
      const minus = (await evaluate(values, weights)).objective;
      values[i][c] = original;
      const numeric = (plus - minus) / (above - below);
      const exact = analytic[i][c];
      const absolute = Math.abs(exact - numeric);
      worstAbsoluteError = Math.max(worstAbsoluteError, absolute);
      worstRelativeError = Math.max(worstRelativeError, absolute / scale);
      checked++;
    }
  }
  return { worstRelativeError, worstAbsoluteError, checked };
}
