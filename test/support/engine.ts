import { activeGpu } from '../../src/autograd/engine.js';
import type { Gpu } from '../../src/gpu/device.js';
import { initNodeEngine } from '../../src/node/gpu.js';

/** The test process's GPU (software adapter unless SIMBERT_ADAPTER says otherwise). */
export async function testGpu(options: { memoryLimit?: number } = {}): Promise<Gpu> {
  try {
    return activeGpu();
  } catch {
    return initNodeEngine({ memoryLimit: options.memoryLimit });
  }
}
