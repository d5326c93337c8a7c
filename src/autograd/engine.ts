import { Gpu, type GpuOptions } from '../gpu/device.js';

let active: Gpu | null = null;

/** Creates the GPU device that tensors live on and makes it the active one. */
export async function initEngine(options: GpuOptions = {}): Promise<Gpu> {
  active = await Gpu.create(options);
  return active;
}

/** The active GPU; autograd ops record their kernels on it. */
export function activeGpu(): Gpu {
  if (active === null) throw new Error('no GPU engine: call initEngine() first');
  return active;
}
