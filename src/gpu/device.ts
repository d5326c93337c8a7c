import { chooseAdapter, type AdapterPreference } from './adapter.js';
import { BindGroupCache } from './bind-groups.js';
import { CompileAhead } from './compile-ahead.js';
import { KernelProfiler } from './kernel-profiler.js';
import { layoutEntry, reflectKernel, type BindingInfo, type KernelSource } from './kernel.js';
import { BufferPool, type PooledBuffer } from './pool.js';
import { quietWait } from './quiet-wait.js';
import { ScratchTextures, TEXTURE_WIDTH, type ScratchTexture } from './textures.js';

export const DEFAULT_MEMORY_LIMIT = 4 * 1024 ** 3;

export interface GpuOptions {
  adapter?: AdapterPreference;
  memoryLimit?: number;
  /**
   * Makes the device look like a smaller adapter (tests): without subgroups, as a
   * compatibility-mode adapter, or with lower limits than the adapter offers.
   */
  restrict?: AdapterRestriction;
  /** Stamps every dispatch with timestamp queries (`Gpu.profiler`); needs the adapter's 'timestamp-query'. Benches only. */
  profileKernels?: boolean;
  /**
   * On a software adapter, compiles new pipelines on a second device as well (see CompileAhead):
   * a cold start compiles on two cores instead of one. Ignored on hardware adapters.
   */
  compileAhead?: boolean;
}

export interface AdapterRestriction {
  subgroups?: false;
  compatibility?: true;
  readableStorageTextures?: false;
  limits?: Partial<Record<RequestedLimit, number>>;
}

/** The limits the kernels need more of than WebGPU's defaults guarantee; each is requested up to what the adapter offers. */
export const REQUESTED_LIMITS = [
  'maxStorageBufferBindingSize', 'maxBufferSize', 'maxStorageBuffersPerShaderStage', 'maxStorageTexturesPerShaderStage',
  'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY',
] as const;
export type RequestedLimit = (typeof REQUESTED_LIMITS)[number];

/**
 * What the kernels may rely on (kernel versions are chosen from this, never from an adapter's
 * name): the subgroup size when the adapter has subgroups of one fixed size (kernels unroll over
 * a subgroup's lanes), else 0; whether WGSL may read storage textures; whether the adapter is a
 * compatibility-mode one (WebGPU on OpenGL ES / D3D11).
 */
export interface GpuCapabilities {
  subgroupSize: number;
  readableStorageTextures: boolean;
  compatibility: boolean;
}

/** A compiled compute pipeline with the binding layout reflected from its WGSL. */
export interface Kernel {
  readonly name: string;
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
  readonly bindings: BindingInfo[];
  readonly workgroupSize: [number, number, number];
}

export type UniformValues = Record<string, number>;
export type BindingValue = PooledBuffer | ScratchTexture | UniformValues;

export interface GpuCounters {
  dispatches: number;
  submissions: number;
  /** Distinct pipelines compiled: each costs a shader compile (lavapipe: LLVM) unless the driver's cache has it. */
  pipelines: number;
}

const UNIFORM_ALIGNMENT = 256;
const UNIFORM_CHUNK_BYTES = 64 * 1024;

function isPooledBuffer(value: BindingValue): value is PooledBuffer {
  return typeof (value as PooledBuffer).buffer === 'object' && typeof (value as PooledBuffer).capacity === 'number';
}

function isScratchTexture(value: BindingValue): value is ScratchTexture {
  return typeof (value as ScratchTexture).view === 'object' && typeof (value as ScratchTexture).texels === 'number';
}

/**
 * A second device on the software adapter for CompileAhead, or null where it cannot be had: it only
 * shortens a cold start, so its absence is no error. An adapter opens one device, so the helper
 * asks for the adapter again.
 */
async function openCompileAhead(gpu: GPU, features: GPUFeatureName[], requiredLimits: Record<string, number>): Promise<CompileAhead | null> {
  try {
    const again = await chooseAdapter(gpu, 'software');
    const device = await again.adapter.requestDevice({ requiredFeatures: features.filter((f) => f !== 'timestamp-query'), requiredLimits });
    return new CompileAhead(device);
  } catch {
    return null;
  }
}

/**
 * The WebGPU device and everything that records work on it: the buffer pool, the pipeline
 * cache, and one open command encoder into which dispatches are recorded until `submit`.
 */
export class Gpu {
  readonly pool: BufferPool;
  /** Scratch storage textures, counted against the pool's cap. */
  readonly textures: ScratchTextures;
  readonly counters: GpuCounters = { dispatches: 0, submissions: 0, pipelines: 0 };
  /**
   * Compiled kernels by WGSL, then by entry point and constants. Keyed on the WGSL string itself:
   * the kernels pass the same string objects call after call, whose hash V8 computes once, where a
   * key built around the source (a new string each call) cost a hash of kilobytes per dispatch.
   */
  private readonly pipelines = new Map<string, Map<string, Kernel>>();
  private readonly pipelinesInUse = new Set<Kernel>();
  private readonly bindGroups: BindGroupCache;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly uniformChunks: GPUBuffer[] = [];
  private uniformBytes = new Uint8Array(UNIFORM_CHUNK_BYTES);
  private uniformCursor = 0;
  private readonly stagingBuffers: GPUBuffer[] = [];
  private deviceError: string | null = null;
  private destroying = false;
  /** Rejects when the device is lost (not by our own destroy), so that no wait outlives it. */
  private readonly lostSignal: Promise<never>;
  /** GPU time per kernel, when the device was opened with profileKernels. */
  readonly profiler: KernelProfiler | null;
  /**
   * A small buffer for a read-only binding that a uniform flag tells the kernel not to read
   * (WebGPU wants every binding bound, and forbids binding one buffer writable and read-only at
   * once). It holds NaNs, so that a kernel reading it anyway shows in its output.
   */
  readonly unreadBinding: PooledBuffer;
  /** A small buffer for a writable binding that a uniform flag tells the kernel not to write (see unreadBinding). */
  readonly unwrittenBinding: PooledBuffer;

  private constructor(
    readonly device: GPUDevice,
    readonly adapterKind: 'hardware' | 'software',
    readonly adapterDescription: string,
    readonly capabilities: GpuCapabilities,
    memoryLimit: number,
    profileKernels: boolean,
    /** The helper that compiles new pipelines on a second device, if the options asked for one. */
    readonly compileAhead: CompileAhead | null = null,
  ) {
    this.profiler = profileKernels ? new KernelProfiler(device) : null;
    this.pool = new BufferPool(device, memoryLimit, () => this.submit(), () => this.textures.dropAllResidents());
    this.textures = new ScratchTextures(device, this.pool);
    this.bindGroups = new BindGroupCache(device);
    this.unreadBinding = this.pool.acquire(16, 'unread binding');
    this.write(this.unreadBinding, new Float32Array(4).fill(NaN));
    this.unwrittenBinding = this.pool.acquire(16, 'unwritten binding');
    device.addEventListener('uncapturederror', (event) => {
      const message = (event as GPUUncapturedErrorEvent).error.message;
      this.deviceError ??= message;
    });
    this.lostSignal = device.lost.then((info) => {
      const message = `GPU device lost (${info.reason === 'destroyed' ? 'destroyed' : 'driver reset or crash'}${info.message ? `: ${info.message}` : ''})`;
      if (!this.destroying) this.deviceError = message;
      throw new Error(`WebGPU error: ${message}`);
    });
    this.lostSignal.catch(() => undefined);
  }

  /** Opens a device on an adapter of `gpu`, the entry point's WebGPU object (Dawn's in Node, navigator.gpu in a page). */
  static async create(gpu: GPU, options: GpuOptions = {}): Promise<Gpu> {
    const choice = await chooseAdapter(gpu, options.adapter ?? 'auto');
    const adapter = choice.adapter;
    const restrict = options.restrict ?? {};
    const hasSubgroups = adapter.features.has('subgroups') && restrict.subgroups !== false;
    const requiredLimits: Record<string, number> = {};
    for (const name of REQUESTED_LIMITS) requiredLimits[name] = Math.min(adapter.limits[name], restrict.limits?.[name] ?? Infinity);
    if (options.profileKernels && !adapter.features.has('timestamp-query')) throw new Error('kernel profiling needs an adapter with timestamp-query');
    const features: GPUFeatureName[] = [];
    if (hasSubgroups) features.push('subgroups' as GPUFeatureName);
    if (options.profileKernels) features.push('timestamp-query');
    const device = await adapter.requestDevice({ requiredFeatures: features, requiredLimits });
    const ahead = options.compileAhead && choice.kind === 'software' ? await openCompileAhead(gpu, features, requiredLimits) : null;
    const { subgroupMinSize, subgroupMaxSize } = adapter.info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number };
    const capabilities: GpuCapabilities = {
      subgroupSize: hasSubgroups && subgroupMinSize === subgroupMaxSize && subgroupMinSize !== undefined && subgroupMinSize >= 4 && subgroupMinSize <= 64 ? subgroupMinSize : 0,
      readableStorageTextures: choice.readableStorageTextures && restrict.readableStorageTextures !== false,
      compatibility: !adapter.features.has('core-features-and-limits') || restrict.compatibility === true,
    };
    return new Gpu(device, choice.kind, choice.description, capabilities, options.memoryLimit ?? DEFAULT_MEMORY_LIMIT, options.profileKernels === true, ahead);
  }

  get hasSubgroups(): boolean {
    return this.capabilities.subgroupSize > 0;
  }

  get readableStorageTextures(): boolean {
    return this.capabilities.readableStorageTextures;
  }

  get maxBindingBytes(): number {
    return this.device.limits.maxStorageBufferBindingSize;
  }

  /** Compiles (once) and returns the pipeline for a WGSL entry point and its constants. */
  kernel(source: KernelSource): Kernel {
    const variant = `${source.entryPoint ?? ''}\u0000${JSON.stringify(source.constants ?? {})}`;
    let variants = this.pipelines.get(source.wgsl);
    const cached = variants?.get(variant);
    if (cached) return cached;
    const reflected = reflectKernel(source);
    this.checkFits(source.name, reflected.bindings, reflected.workgroupSize);
    const layout = this.device.createBindGroupLayout({
      label: source.name,
      entries: reflected.bindings.map(layoutEntry),
    });
    const module = this.device.createShaderModule({ code: source.wgsl, label: source.name });
    const pipeline = this.device.createComputePipeline({
      label: source.name,
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: reflected.entryPoint, constants: source.constants },
    });
    const kernel: Kernel = { name: source.name, pipeline, layout, bindings: reflected.bindings, workgroupSize: reflected.workgroupSize };
    if (!variants) this.pipelines.set(source.wgsl, (variants = new Map()));
    variants.set(variant, kernel);
    this.counters.pipelines++;
    this.compileAhead?.add(source, reflected.bindings);
    return kernel;
  }

  /**
   * Records one dispatch. `bindings` names every binding of the kernel's WGSL: buffers for
   * storage bindings, an object with every member for a uniform struct. A missing, extra or
   * mistyped binding throws here, before anything reaches the GPU.
   */
  dispatch(kernel: Kernel, bindings: Record<string, BindingValue>, workgroups: [number, number?, number?]): void {
    const [x, y = 1, z = 1] = workgroups;
    const maxWorkgroups = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (x < 1 || y < 1 || z < 1) return; // empty problem: nothing to do
    if (x > maxWorkgroups || y > maxWorkgroups || z > maxWorkgroups) {
      throw new Error(`kernel ${kernel.name}: dispatch (${x}, ${y}, ${z}) exceeds ${maxWorkgroups} workgroups per dimension`);
    }
    const { entries, uniformOffsets } = this.bindEntries(kernel, bindings);
    const bindGroup = this.bindGroups.get(kernel.layout, entries, kernel.name);
    if (this.profiler) {
      this.endPass();
      if (this.profiler.full) this.submit();
      this.pass = this.profiler.beginPass(this.commandEncoder(), kernel.name, [x, y, z]);
    }
    const pass = this.computePass();
    pass.setPipeline(kernel.pipeline);
    pass.setBindGroup(0, bindGroup, uniformOffsets);
    pass.dispatchWorkgroups(x, y, z);
    if (this.profiler) this.endPass();
    this.counters.dispatches++;
    this.pipelinesInUse.add(kernel);
  }

  /** Distinct pipelines dispatched since the last resetPipelineUse (what a piece of work needs compiled). */
  pipelinesUsed(): number {
    return this.pipelinesInUse.size;
  }

  resetPipelineUse(): void {
    this.pipelinesInUse.clear();
  }

  /** Lends a storage buffer from the pool (contents undefined). */
  allocate(byteLength: number, label: string): PooledBuffer {
    return this.pool.acquire(byteLength, label);
  }

  release(buffer: PooledBuffer): void {
    this.textures.dropResident(buffer.id);
    this.pool.release(buffer);
  }

  /** A pool buffer holding `data`. */
  upload(data: Float32Array | Int32Array | Uint32Array, label: string): PooledBuffer {
    const buffer = this.allocate(data.byteLength, label);
    this.write(buffer, data);
    return buffer;
  }

  write(target: PooledBuffer, data: Float32Array | Int32Array | Uint32Array, byteOffset = 0): void {
    if (byteOffset + data.byteLength > target.byteLength) {
      throw new Error(`write of ${data.byteLength} bytes at ${byteOffset} overflows '${target.label}' (${target.byteLength} bytes)`);
    }
    if (data.byteLength === 0) return;
    this.device.queue.writeBuffer(target.buffer, byteOffset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Records a clear to zero of the first `byteLength` bytes (default: all of it). */
  clear(target: PooledBuffer, byteLength = target.byteLength): void {
    const size = Math.ceil(byteLength / 4) * 4;
    if (size === 0) return;
    this.endPass();
    this.commandEncoder().clearBuffer(target.buffer, 0, size);
  }

  /** Records a copy between pool buffers. */
  copy(source: PooledBuffer, target: PooledBuffer, byteLength: number, sourceOffset = 0, targetOffset = 0): void {
    if (byteLength === 0) return;
    this.endPass();
    this.commandEncoder().copyBufferToBuffer(source.buffer, sourceOffset, target.buffer, targetOffset, byteLength);
  }

  /**
   * Records a copy of the first `texels` * 16 bytes of a buffer into a scratch texture, texel t
   * of the buffer landing at the texture's linear texel t.
   */
  copyToTexture(source: PooledBuffer, target: ScratchTexture, texels: number): void {
    if (texels * 16 > source.byteLength) throw new Error(`copy of ${texels} texels overruns '${source.label}' (${source.byteLength} bytes)`);
    if (texels > target.texels) throw new Error(`copy of ${texels} texels overruns '${target.label}' (${target.texels} texels)`);
    if (texels === 0) return;
    this.endPass();
    const encoder = this.commandEncoder();
    const bytesPerRow = TEXTURE_WIDTH * 16;
    const fullRows = Math.floor(texels / TEXTURE_WIDTH);
    const rest = texels - fullRows * TEXTURE_WIDTH;
    if (fullRows > 0) {
      encoder.copyBufferToTexture({ buffer: source.buffer, bytesPerRow }, { texture: target.texture }, [TEXTURE_WIDTH, fullRows]);
    }
    if (rest > 0) {
      encoder.copyBufferToTexture(
        { buffer: source.buffer, offset: fullRows * bytesPerRow, bytesPerRow },
        { texture: target.texture, origin: [0, fullRows] },
        [rest, 1],
      );
    }
  }

  /**
   * A texture holding the first `texels` texels of `source` (as copyToTexture lays them out), kept
   * across uses for a buffer whose contents never change while it lives (an inference model's
   * weights): the copy is recorded at the first request only. Null when the memory cap has no
   * room; the copy then goes where the caller copies per use.
   */
  residentTexture(source: PooledBuffer, texels: number): ScratchTexture | null {
    const resident = this.textures.residentOf(source.id);
    if (resident && resident.texels >= texels) return resident;
    const made = this.textures.makeResident(source.id, texels, source.label);
    if (made) this.copyToTexture(source, made, texels);
    return made;
  }

  /** Submits everything recorded so far as one command buffer. */
  submit(): void {
    this.throwDeviceError();
    if (this.encoder === null) {
      this.pool.onSubmit();
      this.textures.onSubmit();
      return;
    }
    this.endPass();
    this.flushUniforms();
    const readStamps = this.profiler?.resolve(this.encoder);
    const commands = this.encoder.finish();
    this.encoder = null;
    this.device.queue.submit([commands]);
    readStamps?.();
    this.counters.submissions++;
    this.pool.onSubmit();
    this.textures.onSubmit();
  }

  /** Submits and waits until the GPU has finished all submitted work. */
  async sync(): Promise<void> {
    this.submit();
    await quietWait(Promise.race([this.device.queue.onSubmittedWorkDone(), this.lostSignal]));
    this.throwDeviceError();
  }

  /** Copies `byteLength` bytes of a buffer back to the host once the recorded work has run. */
  async read(source: PooledBuffer, byteLength = source.byteLength, byteOffset = 0): Promise<ArrayBuffer> {
    if (source.released) throw new Error(`read of released buffer '${source.label}'`);
    const size = Math.ceil(byteLength / 4) * 4;
    if (size === 0) return new ArrayBuffer(0);
    const staging = this.takeStaging(size);
    this.endPass();
    this.commandEncoder().copyBufferToBuffer(source.buffer, byteOffset, staging, 0, size);
    this.submit();
    try {
      await quietWait(Promise.race([staging.mapAsync(GPUMapMode.READ, 0, size), this.lostSignal]));
      const copy = staging.getMappedRange(0, size).slice(0, byteLength);
      staging.unmap();
      return copy;
    } finally {
      this.stagingBuffers.push(staging);
      this.throwDeviceError();
    }
  }

  destroy(): void {
    this.destroying = true;
    this.textures.destroy();
    this.pool.trim();
    this.profiler?.destroy();
    for (const staging of this.stagingBuffers) staging.destroy();
    for (const chunk of this.uniformChunks) chunk.destroy();
    this.compileAhead?.destroy();
    this.device.destroy();
  }

  /** A kernel beyond the device's limits fails here with a message, not in pipeline validation. */
  private checkFits(name: string, bindings: BindingInfo[], workgroupSize: [number, number, number]): void {
    const limits = this.device.limits;
    const buffers = bindings.filter((b) => b.kind === 'storage' || b.kind === 'read-only-storage').length;
    const textures = bindings.filter((b) => b.kind === 'read-only-texture' || b.kind === 'write-only-texture').length;
    const invocations = workgroupSize[0] * workgroupSize[1] * workgroupSize[2];
    const problems = [
      buffers > limits.maxStorageBuffersPerShaderStage ? `${buffers} storage buffers (the device allows ${limits.maxStorageBuffersPerShaderStage})` : '',
      textures > limits.maxStorageTexturesPerShaderStage ? `${textures} storage textures (the device allows ${limits.maxStorageTexturesPerShaderStage})` : '',
      invocations > limits.maxComputeInvocationsPerWorkgroup ? `${invocations} invocations per workgroup (the device allows ${limits.maxComputeInvocationsPerWorkgroup})` : '',
    ].filter((problem) => problem !== '');
    if (problems.length > 0) throw new Error(`kernel ${name} needs ${problems.join(' and ')}; this GPU adapter is too small for it`);
  }

  private takeStaging(size: number): GPUBuffer {
    const index = this.stagingBuffers.findIndex((buffer) => buffer.size >= size);
    if (index >= 0) return this.stagingBuffers.splice(index, 1)[0];
    const capacity = Math.max(4096, 2 ** Math.ceil(Math.log2(size)));
    return this.device.createBuffer({ size: capacity, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'readback' });
  }

  /** The bind group's entries (uniform buffers at offset 0) and the uniforms' dynamic offsets, in binding-number order. */
  private bindEntries(kernel: Kernel, bindings: Record<string, BindingValue>): { entries: GPUBindGroupEntry[]; uniformOffsets: number[] } {
    const expected = new Set(kernel.bindings.map((b) => b.name));
    for (const name of Object.keys(bindings)) {
      if (!expected.has(name)) {
        throw new Error(`kernel ${kernel.name}: no binding named '${name}' (bindings: ${[...expected].join(', ')})`);
      }
    }
    const writable = new Map<number, string>();
    const writableTextures = new Map<GPUTexture, string>();
    const entries: GPUBindGroupEntry[] = [];
    const uniforms: [binding: number, offset: number][] = [];
    for (const binding of kernel.bindings) {
      const value = bindings[binding.name];
      if (value === undefined) throw new Error(`kernel ${kernel.name}: binding '${binding.name}' not given`);
      if (binding.kind === 'uniform') {
        if (isPooledBuffer(value) || isScratchTexture(value)) throw new Error(`kernel ${kernel.name}: '${binding.name}' is a uniform struct, got ${isPooledBuffer(value) ? 'a buffer' : 'a texture'} '${value.label}'`);
        const { entry, offset } = this.uniformEntry(kernel, binding, value);
        entries.push(entry);
        uniforms.push([binding.binding, offset]);
        continue;
      }
      if (binding.kind === 'read-only-texture' || binding.kind === 'write-only-texture') {
        if (!isScratchTexture(value)) throw new Error(`kernel ${kernel.name}: '${binding.name}' is a storage texture, got ${JSON.stringify(value)}`);
        if (binding.kind === 'write-only-texture') writableTextures.set(value.texture, binding.name);
        entries.push({ binding: binding.binding, resource: value.view });
        continue;
      }
      if (!isPooledBuffer(value)) throw new Error(`kernel ${kernel.name}: '${binding.name}' is a storage buffer, got ${JSON.stringify(value)}`);
      if (value.released) throw new Error(`kernel ${kernel.name}: '${binding.name}' is bound to released buffer '${value.label}'`);
      if (binding.kind === 'storage') writable.set(value.id, binding.name);
      entries.push({ binding: binding.binding, resource: { buffer: value.buffer, size: Math.max(4, Math.ceil(value.byteLength / 4) * 4) } });
    }
    for (const binding of kernel.bindings) {
      const value = bindings[binding.name];
      if (binding.kind === 'read-only-storage' && isPooledBuffer(value) && writable.has(value.id)) {
        throw new Error(`kernel ${kernel.name}: buffer '${value.label}' bound both to '${binding.name}' and to writable '${writable.get(value.id)}'`);
      }
      if (binding.kind === 'read-only-texture' && isScratchTexture(value) && writableTextures.has(value.texture)) {
        throw new Error(`kernel ${kernel.name}: '${value.label}' bound both to '${binding.name}' and to writable '${writableTextures.get(value.texture)}'`);
      }
    }
    return { entries, uniformOffsets: uniforms.sort((a, b) => a[0] - b[0]).map(([, offset]) => offset) };
  }

  /** Packs a uniform struct's values; the entry binds its chunk at offset 0, `offset` is the dynamic offset. */
  private uniformEntry(kernel: Kernel, binding: BindingInfo, values: UniformValues): { entry: GPUBindGroupEntry; offset: number } {
    const fields = binding.uniformFields ?? [];
    const size = binding.uniformSize ?? 16;
    const names = new Set(fields.map((f) => f.name));
    for (const name of Object.keys(values)) {
      if (!names.has(name)) throw new Error(`kernel ${kernel.name}: uniform '${binding.name}' has no member '${name}'`);
    }
    let chunkIndex = Math.floor(this.uniformCursor / UNIFORM_CHUNK_BYTES);
    let chunkOffset = this.uniformCursor % UNIFORM_CHUNK_BYTES;
    if (chunkOffset + size > UNIFORM_CHUNK_BYTES) {
      chunkIndex++;
      chunkOffset = 0;
    }
    const offset = chunkIndex * UNIFORM_CHUNK_BYTES + chunkOffset;
    this.ensureUniformCapacity(offset + size);
    const view = new DataView(this.uniformBytes.buffer, offset, size);
    for (const field of fields) {
      const value = values[field.name];
      if (value === undefined || !Number.isFinite(value)) {
        throw new Error(`kernel ${kernel.name}: uniform '${binding.name}.${field.name}' (${field.type}) not given or not finite`);
      }
      if (field.type === 'f32') view.setFloat32(field.offset, value, true);
      else if (field.type === 'u32') {
        if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new Error(`kernel ${kernel.name}: '${field.name}' must be a u32, got ${value}`);
        view.setUint32(field.offset, value, true);
      } else {
        if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) throw new Error(`kernel ${kernel.name}: '${field.name}' must be an i32, got ${value}`);
        view.setInt32(field.offset, value, true);
      }
    }
    this.uniformCursor = Math.ceil((offset + size) / UNIFORM_ALIGNMENT) * UNIFORM_ALIGNMENT;
    return { entry: { binding: binding.binding, resource: { buffer: this.uniformChunks[chunkIndex], size } }, offset: chunkOffset };
  }

  private ensureUniformCapacity(bytes: number): void {
    while (this.uniformChunks.length * UNIFORM_CHUNK_BYTES < bytes) {
      this.uniformChunks.push(
        this.device.createBuffer({ size: UNIFORM_CHUNK_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label: 'uniforms' }),
      );
    }
    if (this.uniformBytes.byteLength < this.uniformChunks.length * UNIFORM_CHUNK_BYTES) {
      const grown = new Uint8Array(this.uniformChunks.length * UNIFORM_CHUNK_BYTES);
      grown.set(this.uniformBytes);
      this.uniformBytes = grown;
    }
  }

  /**
   * Uniform values of every dispatch recorded since the last submission are written in one go,
   * just before the submission; the queue orders that write after earlier submissions.
   */
  private flushUniforms(): void {
    if (this.uniformCursor === 0) return;
    const used = Math.ceil(this.uniformCursor / UNIFORM_CHUNK_BYTES);
    for (let i = 0; i < used; i++) {
      const length = Math.min(UNIFORM_CHUNK_BYTES, this.uniformCursor - i * UNIFORM_CHUNK_BYTES);
      this.device.queue.writeBuffer(this.uniformChunks[i], 0, this.uniformBytes.buffer, i * UNIFORM_CHUNK_BYTES, Math.ceil(length / 4) * 4);
    }
    this.uniformCursor = 0;
  }

  private commandEncoder(): GPUCommandEncoder {
    this.encoder ??= this.device.createCommandEncoder();
    return this.encoder;
  }

  private computePass(): GPUComputePassEncoder {
    this.pass ??= this.commandEncoder().beginComputePass();
    return this.pass;
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }

  private throwDeviceError(): void {
    if (this.deviceError !== null) {
      const message = this.deviceError;
      this.deviceError = null;
      throw new Error(`WebGPU error: ${message}`);
    }
  }
}
