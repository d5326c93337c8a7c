import * as assert from 'uvu/assert';
import { gradcheck } from '../../src/autograd/gradcheck.js';
import type { Tensor } from '../../src/autograd/tensor.js';
import { randomArray } from './random.js';

const worstByOp = new Map<string, number>();

/**
 * Gradient check of one op on random inputs of the given shapes; records the worst relative
 * error for `reportWorst`. f32 central differences: tolerance 1e-3 relative (floor 1e-3).
 */
export async function checkGradients(
  op: string,
  shapes: number[][],
  f: (inputs: Tensor[]) => Tensor,
  options: { seed?: number; tolerance?: number; scale?: number; inputs?: Float32Array[]; step?: number } = {},
): Promise<void> {
  const seed = options.seed ?? 7;
  const inputs = shapes.map((shape, i) => ({
    shape,
    data: options.inputs?.[i] ?? randomArray(shape.reduce((p, d) => p * d, 1), seed + i, options.scale ?? 1),
  }));
  const result = await gradcheck(f, inputs, { seed, step: options.step });
  const tolerance = options.tolerance ?? 1e-3;
  worstByOp.set(op, Math.max(worstByOp.get(op) ?? 0, result.worstRelativeError));
  assert.ok(
    result.worstRelativeError <= tolerance,
    `${op} ${JSON.stringify(shapes)}: worst relative gradient error ${result.worstRelativeError.toExponential(2)} > ${tolerance}`,
  );
}

/** Prints `worst: op relative-error` lines, which the test runner repeats in its summary. */
export function reportWorst(): void {
  for (const [op, worst] of worstByOp) console.log(`worst: gradcheck ${op} ${worst.toExponential(2)}`);
}

/**
 * The GPU op's analytic gradients against float64 central differences of a CPU reference
 * (tight: the reference is exact to ~1e-9), over every input coordinate.
 */
export async function checkGradientsAgainstReference(
  op: string,
  shapes: number[][],
  gpuOp: (inputs: Tensor[]) => Tensor,
  reference: (inputs: Float64Array[]) => Float64Array,
  options: { seed?: number; tolerance?: number } = {},
): Promise<void> {
  const { Tensor } = await import('../../src/autograd/tensor.js');
  const { backward } = await import('../../src/autograd/tape.js');
  const seed = options.seed ?? 11;
  const data = shapes.map((shape, i) => randomArray(shape.reduce((p, d) => p * d, 1), seed + i));
  const weights64 = Float64Array.from(reference(data.map((d) => Float64Array.from(d))), (_, i) => Math.sin(i * 1.7 + 0.3));
  const leaves = data.map((d, i) => Tensor.fromArray(d, shapes[i], { requiresGrad: true }));
  const out = gpuOp(leaves);
  const seedTensor = Tensor.fromArray(Float32Array.from(weights64), out.shape);
  backward(out, seedTensor);
  let worst = 0;
  for (let i = 0; i < leaves.length; i++) {
    const analytic = await leaves[i].grad!.toArray();
    const point = data.map((d) => Float64Array.from(d));
    const h = 1e-5;
    let scale = 0;
    const numeric = new Float64Array(analytic.length);
    for (let c = 0; c < analytic.length; c++) {
      const original = point[i][c];
      point[i][c] = original + h;
      const plus = reference(point).reduce((s, v, j) => s + v * weights64[j], 0);
      point[i][c] = original - h;
      const minus = reference(point).reduce((s, v, j) => s + v * weights64[j], 0);
      point[i][c] = original;
      numeric[c] = (plus - minus) / (2 * h);
      scale = Math.max(scale, Math.abs(numeric[c]));
    }
    for (let c = 0; c < analytic.length; c++) worst = Math.max(worst, Math.abs(analytic[c] - numeric[c]) / Math.max(scale, 1e-6));
  }
  for (const t of [...leaves, out, seedTensor]) {
    t.grad?.release();
    t.release();
  }
  const tolerance = options.tolerance ?? 1e-5;
  console.log(`worst: f64-reference gradient ${op} ${JSON.stringify(shapes)} ${worst.toExponential(2)}`);
  assert.ok(worst <= tolerance, `${op}: gradient differs from the float64 reference by ${worst.toExponential(2)} (relative to the largest) > ${tolerance}`);
}
