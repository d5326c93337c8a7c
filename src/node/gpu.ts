/** WebGPU in Node: Dawn through the `webgpu` package, and the environment variables that steer it. */
import { create, globals } from 'webgpu';
import { initEngine } from '../autograd/engine.js';
import type { AdapterPreference } from '../gpu/adapter.js';
import type { Gpu, GpuOptions } from '../gpu/device.js';
import { MATMUL_VARIANTS, setMatmulVariant, type MatmulVariant } from '../kernels/matmul.js';
import { applyLavapipeWidth } from './lavapipe-width.js';

let dawn: GPU | null = null;

/**
 * Dawn's GPU object (what navigator.gpu is in a browser), created once; WebGPU's globals
 * (GPUBufferUsage, ...) are installed with it. lavapipe's width is chosen first: Mesa reads it
 * when Dawn loads the driver.
 */
export function nodeGpu(): GPU {
  if (dawn === null) {
    applyLavapipeWidth();
    Object.assign(globalThis, globals);
    dawn = create([]);
  }
  return dawn;
}

/** SIMBERT_ADAPTER=software|hardware forces a choice; anything else means hardware first. */
export function adapterPreferenceFromEnv(env: NodeJS.ProcessEnv = process.env): AdapterPreference {
  const value = env.SIMBERT_ADAPTER;
  if (value === undefined || value === '' || value === 'auto') return 'auto';
  if (value === 'software' || value === 'hardware') return value;
  throw new Error(`SIMBERT_ADAPTER must be 'software', 'hardware' or 'auto', got '${value}'`);
}

/** SIMBERT_MATMUL=register|subgroup|texture|tiled forces a matmul version; unset or auto: the per-adapter choice. */
export function matmulVariantFromEnv(env: NodeJS.ProcessEnv = process.env): MatmulVariant | null {
  const value = env.SIMBERT_MATMUL;
  if (value === undefined || value === '' || value === 'auto') return null;
  if ((MATMUL_VARIANTS as readonly string[]).includes(value)) return value as MatmulVariant;
  throw new Error(`SIMBERT_MATMUL must be one of ${MATMUL_VARIANTS.join(', ')} or auto, got '${value}'`);
}

/** The engine on Dawn, with SIMBERT_ADAPTER (unless `options.adapter` says) and SIMBERT_MATMUL applied. */
export async function initNodeEngine(options: GpuOptions = {}): Promise<Gpu> {
  const matmul = matmulVariantFromEnv();
  const gpu = await initEngine(nodeGpu(), { adapter: adapterPreferenceFromEnv(), ...options });
  setMatmulVariant(matmul);
  return gpu;
}
