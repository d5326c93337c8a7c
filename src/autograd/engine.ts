import { Gpu, type GpuOptions } from '../gpu/device.js';

let active: Gpu | null = null;

/**
 * Creates the GPU device that tensors live on and makes it the active one. `gpu` comes from the
 * entry point: Dawn's in Node (src/node/gpu.ts), navigator.gpu in a browser.
 */
export async function initEngine(gpu: GPU, options: GpuOptions = {}): Promise<Gpu> {
  active = await Gpu.create(gpu, options);
  return active;
}

/** The active GPU; autograd ops record their kernels on it. */
export function activeGpu(): Gpu {
  if (active === null) throw new Error('no GPU engine: call initEngine() first');
  return active;
}
