import type { Gpu } from '../gpu/device.js';
import type { PooledBuffer } from '../gpu/pool.js';
import { componentwise, dispatchPerElement, perElementKernels, WGSL_GELU, type PerElementSources } from './common.js';

/**
 * Elementwise kernels. Binary ops broadcast `b` over rows: b holds `bSize` elements and
 * element i of `a` pairs with b[i % bSize] (bSize = n for same shapes, = columns for a bias).
 */

function binaryKernels(name: string, operator: string): PerElementSources {
  return perElementKernels(name, { uniforms: 'b_size: u32', inputs: ['a', 'b'], output: 'out', body: () => `out[i] = a[i] ${operator} b[i % params.b_size];` });
}

const ADD = binaryKernels('add', '+');
const MUL = binaryKernels('mul', '*');

function launchBinary(gpu: Gpu, name: string, kernels: PerElementSources, a: PooledBuffer, b: PooledBuffer, out: PooledBuffer, n: number, bSize: number): void {
  if (bSize < 1 || n % bSize !== 0) throw new Error(`${name}: ${n} elements do not broadcast against ${bSize}`);
  // In vec4 units b holds ceil(bSize / 4): exact when bSize % 4 == 0, and when bSize == n the
  // vec4 indices stay below it, so the modulo leaves them alone.
  const vectorise = bSize % 4 === 0 || bSize === n;
  dispatchPerElement(gpu, kernels, { a, b, out }, n, (element) => ({ b_size: element === 'vec4f' ? Math.ceil(bSize / 4) : bSize }), vectorise);
}

export function add(gpu: Gpu, a: PooledBuffer, b: PooledBuffer, out: PooledBuffer, n: number, bSize = n): void {
  launchBinary(gpu, 'add', ADD, a, b, out, n, bSize);
}

export function mul(gpu: Gpu, a: PooledBuffer, b: PooledBuffer, out: PooledBuffer, n: number, bSize = n): void {
  launchBinary(gpu, 'mul', MUL, a, b, out, n, bSize);
}

const SCALE = perElementKernels('scale', { uniforms: 'alpha: f32', inputs: ['a'], output: 'out', body: () => 'out[i] = params.alpha * a[i];' });

/** out = alpha * a */
export function scale(gpu: Gpu, a: PooledBuffer, out: PooledBuffer, n: number, alpha: number): void {
  dispatchPerElement(gpu, SCALE, { a, out }, n, () => ({ alpha }));
}

const FILL_FROM_SCALAR = perElementKernels('fillFromScalar', {
  uniforms: 'alpha: f32',
  inputs: [],
  scalarInputs: ['scalar'],
  output: 'out',
  body: (element) => `out[i] = ${element}(params.alpha * scalar[0]);`,
});

/** out[i] = alpha * scalar[0]: the backward of a sum or mean. */
export function fillFromScalar(gpu: Gpu, scalar: PooledBuffer, out: PooledBuffer, n: number, alpha: number): void {
  dispatchPerElement(gpu, FILL_FROM_SCALAR, { scalar, out }, n, () => ({ alpha }));
}

// The GELU helpers are f32 functions, applied per component.
const GELU_FORWARD = perElementKernels('gelu', {
  preamble: WGSL_GELU,
  inputs: ['x'],
  output: 'out',
  body: (element) => `let v = x[i];\n  out[i] = ${componentwise(element, 'v', (c) => `gelu(${c})`)};`,
});

export function gelu(gpu: Gpu, x: PooledBuffer, out: PooledBuffer, n: number): void {
  dispatchPerElement(gpu, GELU_FORWARD, { x, out }, n);
}

const GELU_BACKWARD = perElementKernels('geluBackward', {
  preamble: WGSL_GELU,
  inputs: ['x', 'dy'],
  output: 'dx',
  body: (element) => `let v = x[i];\n  dx[i] = dy[i] * ${componentwise(element, 'v', (c) => `gelu_grad(${c})`)};`,
});

/** dx = dy * gelu'(x), with x the GELU's input. */
export function geluBackward(gpu: Gpu, x: PooledBuffer, dy: PooledBuffer, dx: PooledBuffer, n: number): void {
  dispatchPerElement(gpu, GELU_BACKWARD, { x, dy, dx }, n);
}
