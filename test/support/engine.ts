import { activeGpu, initEngine } from '../../src/autograd/engine.js';
import type { Gpu } from '../../src/gpu/device.js';

/** The test process's GPU (software adapter unless SIMBERT_ADAPTER says otherwise). */
export async function testGpu(options: { memoryLimit?: number } = {}): Promise<Gpu> {
  try {
    return activeGpu();
  } catch {
    return initEngine({ adapter: (process.env.SIMBERT_ADAPTER as 'software' | 'hardware' | undefined) ?? 'auto', memoryLimit: options.memoryLimit });
  }
}
