import { initEngine } from '../autograd/engine.js';
import type { AdapterPreference } from '../gpu/adapter.js';
import { DEFAULT_MEMORY_LIMIT, type Gpu } from '../gpu/device.js';

export interface EngineOptions {
  /** Hard cap on the GPU memory the engine's buffer pool holds, in bytes (default 4 GiB). */
  memoryLimit?: number;
  /** 'software' or 'hardware' forces that kind of adapter; 'auto' (default) prefers hardware. */
  adapter?: AdapterPreference;
}

let engine: Promise<Gpu> | null = null;

/**
 * The page's GPU engine, created by the first call (its options hold for the page's lifetime:
 * WebGPU tensors of every model share one device).
 */
export function openEngine(options: EngineOptions = {}): Promise<Gpu> {
  if (engine === null) {
    const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
    if (!gpu) {
      return Promise.reject(new Error('this browser offers no WebGPU (navigator.gpu is missing): use a browser with WebGPU enabled, over https or on localhost'));
    }
    engine = initEngine(gpu, { adapter: options.adapter ?? 'auto', memoryLimit: options.memoryLimit ?? DEFAULT_MEMORY_LIMIT });
    engine.catch(() => {
      engine = null;
    });
  }
  return engine;
}
