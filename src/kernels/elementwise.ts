import type { Gpu } from '../gpu/device.js';
import type { PooledBuffer } from '../gpu/pool.js';
import { grid1d, perElementWgsl, WGSL_GELU } from './common.js';

/**
 * Elementwise kernels. Binary ops broadcast `b` over rows: b holds `bSize` elements and
 * element i of `a` pairs with b[i % bSize] (bSize = n for same shapes, = columns for a bias).
 */

function binaryWgsl(operator: string): string {
  return perElementWgsl({ uniforms: 'b_size: u32', inputs: ['a', 'b'], output: 'out', body: `out[i] = a[i] ${operator} b[i % params.b_size];` });
}

const ADD = binaryWgsl('+');
const MUL = binaryWgsl('*');

function launchBinary(gpu: Gpu, name: string, wgsl: string, a: PooledBuffer, b: PooledBuffer, out: PooledBuffer, n: number, bSize: number): void {
  if (bSize < 1 || n % bSize !== 0) throw new Error(`${name}: ${n} elements do not broadcast against ${bSize}`);
  gpu.dispatch(gpu.kernel({ name, wgsl }), { a, b, out, params: { n, b_size: bSize } }, grid1d(n));
}

export function add(gpu: Gpu, a: PooledBuffer, b: PooledBuffer, out: PooledBuffer, n: number, bSize = n): void {
  launchBinary(gpu, 'add', ADD, a, b, out, n, bSize);
}

export function mul(gpu: Gpu, a: PooledBuffer, b: PooledBuffer, out: PooledBuffer, n: number, bSize = n): void {
  launchBinary(gpu, 'mul', MUL, a, b, out, n, bSize);
}

const SCALE = perElementWgsl({ uniforms: 'alpha: f32', inputs: ['a'], output: 'out', body: 'out[i] = params.alpha * a[i];' });

/** out = alpha * a */
export function scale(gpu: Gpu, a: PooledBuffer, out: PooledBuffer, n: number, alpha: number): void {
  gpu.dispatch(gpu.kernel({ name: 'scale', wgsl: SCALE }), { a, out, params: { n, alpha } }, grid1d(n));
}

const FILL_FROM_SCALAR = perElementWgsl({ uniforms: 'alpha: f32', inputs: ['scalar'], output: 'out', body: 'out[i] = params.alpha * scalar[0];' });

/** out[i] = alpha * scalar[0]: the backward of a sum or mean. */
export function fillFromScalar(gpu: Gpu, scalar: PooledBuffer, out: PooledBuffer, n: number, alpha: number): void {
  gpu.dispatch(gpu.kernel({ name: 'fillFromScalar', wgsl: FILL_FROM_SCALAR }), { scalar, out, params: { n, alpha } }, grid1d(n));
}

const GELU_FORWARD = perElementWgsl({ preamble: WGSL_GELU, inputs: ['x'], output: 'out', body: 'out[i] = gelu(x[i]);' });

export function gelu(gpu: Gpu, x: PooledBuffer, out: PooledBuffer, n: number): void {
  gpu.dispatch(gpu.kernel({ name: 'gelu', wgsl: GELU_FORWARD }), { x, out, params: { n } }, grid1d(n));
}

const GELU_BACKWARD = perElementWgsl({ preamble: WGSL_GELU, inputs: ['x', 'dy'], output: 'dx', body: 'dx[i] = dy[i] * gelu_grad(x[i]);' });

/** dx = dy * gelu'(x), with x the GELU's input. */
export function geluBackward(gpu: Gpu, x: PooledBuffer, dy: PooledBuffer, dx: PooledBuffer, n: number): void {
  gpu.dispatch(gpu.kernel({ name: 'geluBackward', wgsl: GELU_BACKWARD }), { x, dy, dx, params: { n } }, grid1d(n));
}
