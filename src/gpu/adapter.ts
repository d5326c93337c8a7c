import { create, globals } from 'webgpu';

export type AdapterPreference = 'auto' | 'hardware' | 'software';

export interface AdapterChoice {
  adapter: GPUAdapter;
  kind: 'hardware' | 'software';
  description: string;
  /** WGSL can read storage textures (language feature readonly_and_readwrite_storage_textures). */
  readableStorageTextures: boolean;
}

let gpuEntry: GPU | null = null;

function navigatorGpu(): GPU {
  if (gpuEntry === null) {
    Object.assign(globalThis, globals);
    gpuEntry = create([]);
  }
  return gpuEntry;
}

/** SIMBERT_ADAPTER=software|hardware forces a choice; anything else means hardware first. */
export function adapterPreferenceFromEnv(env: NodeJS.ProcessEnv = process.env): AdapterPreference {
  const value = env.SIMBERT_ADAPTER;
  if (value === undefined || value === '' || value === 'auto') return 'auto';
  if (value === 'software' || value === 'hardware') return value;
  throw new Error(`SIMBERT_ADAPTER must be 'software', 'hardware' or 'auto', got '${value}'`);
}

function describe(adapter: GPUAdapter): string {
  const info = adapter.info;
  const parts = [info.vendor, info.architecture, info.device, info.description].filter((part) => part);
  return parts.join(' / ');
}

/** Prefers a hardware adapter, falls back to the software one (lavapipe), or honours a forced choice. */
export async function chooseAdapter(preference: AdapterPreference): Promise<AdapterChoice> {
  const gpu = navigatorGpu();
  // Asked first even when software is forced: Dawn answers a first forceFallbackAdapter request
  // with null until adapters have been enumerated by an ordinary request.
  const preferred = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  const readableStorageTextures = gpu.wgslLanguageFeatures?.has('readonly_and_readwrite_storage_textures') ?? false;
  if (preferred && !preferred.info.isFallbackAdapter && preference !== 'software') {
    return { adapter: preferred, kind: 'hardware', description: describe(preferred), readableStorageTextures };
  }
  if (preference === 'hardware') {
    throw new Error(
      preferred
        ? `no hardware WebGPU adapter: the only one is the software adapter ${describe(preferred)} (unset SIMBERT_ADAPTER to use it)`
        : 'no hardware WebGPU adapter found (unset SIMBERT_ADAPTER to allow the software one)',
    );
  }
  const fallback = preferred?.info.isFallbackAdapter ? preferred : await gpu.requestAdapter({ forceFallbackAdapter: true });
  if (!fallback) {
    throw new Error('no WebGPU adapter found: run `bash scripts/setup.sh` to install the software Vulkan driver (Mesa lavapipe)');
  }
  return { adapter: fallback, kind: 'software', description: describe(fallback), readableStorageTextures };
}
