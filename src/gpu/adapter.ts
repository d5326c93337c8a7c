export type AdapterPreference = 'auto' | 'hardware' | 'software';

export interface AdapterChoice {
  adapter: GPUAdapter;
  kind: 'hardware' | 'software';
  description: string;
  /** WGSL can read storage textures (language feature readonly_and_readwrite_storage_textures). */
  readableStorageTextures: boolean;
}

function describe(adapter: GPUAdapter): string {
  const info = adapter.info;
  const parts = [info.vendor, info.architecture, info.device, info.description].filter((part) => part);
  // A browser may hide every detail (ANGLE's compatibility adapter does).
  return parts.length > 0 ? parts.join(' / ') : 'details not disclosed';
}

/**
 * Prefers a hardware adapter, falls back to the software one (lavapipe, SwiftShader), or honours a
 * forced choice. `gpu` is the entry point's WebGPU object: Dawn's in Node, navigator.gpu in a page.
 */
export async function chooseAdapter(gpu: GPU, preference: AdapterPreference): Promise<AdapterChoice> {
  // Asked first even when software is forced: Dawn answers a first forceFallbackAdapter request
  // with null until adapters have been enumerated by an ordinary request.
  // A browser that offers only a compatibility-mode adapter (WebGPU on OpenGL ES) answers null
  // to a plain request and needs featureLevel 'compatibility'.
  const preferred = (await gpu.requestAdapter({ powerPreference: 'high-performance' })) ??
    (await gpu.requestAdapter({ featureLevel: 'compatibility' }));
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
