import { layoutEntry, TEXTURE_FORMAT, type BindingInfo, type KernelSource } from './kernel.js';
import { quietWait } from './quiet-wait.js';
import { TEXTURE_WIDTH } from './textures.js';

/**
 * Compiles pipelines on a second device while the first one works, newest first.
 *
 * lavapipe compiles a pipeline with LLVM at its first dispatch, on the thread that runs the
 * device's queue, one pipeline after another: a cold start of the demo spends 11-13 s of one core
 * there while the other core waits. A second device has a queue thread of its own, and Mesa's
 * shader cache is shared by both, so a pipeline that this helper dispatched first is loaded from
 * the cache when the main device reaches it. The helper takes the most recently created pipeline
 * first: a step records all of its new pipelines before the main device runs the first of them,
 * so the two devices start at opposite ends of the step and meet in the middle.
 *
 * Each pipeline runs once, on one workgroup, with zero uniforms (every kernel returns early for an
 * empty problem) and small placeholder buffers and textures of its own, none shared with the main
 * device and outside its memory cap (under 1 MiB). A pipeline the helper cannot run is skipped
 * and counted in `failures` (the first message kept in `firstFailure`); the main device compiles
 * what the helper did not. Only an error outside those (the device lost) stops the helper.
 */
export class CompileAhead {
  private readonly waiting: { source: KernelSource; bindings: BindingInfo[] }[] = [];
  private running: Promise<void> | null = null;
  private stopped = false;
  /** Placeholders of the pipeline being run, destroyed once it has run. */
  private readonly resources: (GPUBuffer | GPUTexture)[] = [];
  /** Pipelines this helper has run. */
  compiled = 0;
  /** Pipelines it could not run, and the first reason. */
  failures = 0;
  firstFailure: string | null = null;

  constructor(private readonly device: GPUDevice) {
    device.addEventListener('uncapturederror', (event) => {
      this.noteFailure((event as GPUUncapturedErrorEvent).error.message);
      this.stop();
    });
  }

  /** Queues a pipeline the main device has just created; it runs ahead of older queued ones. */
  add(source: KernelSource, bindings: BindingInfo[]): void {
    if (this.stopped) return;
    this.waiting.push({ source, bindings });
    this.running ??= this.drain().finally(() => {
      this.running = null;
    });
  }

  /** Resolves when every queued pipeline has run (or the helper has stopped). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  destroy(): void {
    this.stop();
    this.releasePlaceholders();
    this.device.destroy();
  }

  private stop(): void {
    this.stopped = true;
    this.waiting.length = 0;
  }

  private noteFailure(message: string): void {
    this.failures++;
    this.firstFailure ??= message;
  }

  private async drain(): Promise<void> {
    // Let the caller finish recording (and queue the rest of its new pipelines) first.
    await Promise.resolve();
    for (let next = this.waiting.pop(); next && !this.stopped; next = this.waiting.pop()) {
      const { source, bindings } = next;
      this.device.pushErrorScope('validation');
      let thrown: unknown = null;
      try {
        await this.run(source, bindings);
      } catch (error) {
        thrown = error;
      } finally {
        this.releasePlaceholders();
      }
      const invalid = await this.device.popErrorScope().catch(() => null);
      if (this.stopped) return;
      if (invalid ?? thrown) this.noteFailure(`${source.name}: ${invalid?.message ?? (thrown instanceof Error ? thrown.message : String(thrown))}`);
      else this.compiled++;
    }
  }

  private async run(source: KernelSource, bindings: BindingInfo[]): Promise<void> {
    const device = this.device;
    const layout = device.createBindGroupLayout({ label: `ahead ${source.name}`, entries: bindings.map(layoutEntry) });
    const module = device.createShaderModule({ code: source.wgsl, label: `ahead ${source.name}` });
    // Not createComputePipelineAsync: translating WGSL on Dawn's worker thread while the main
    // device translates another on this one produced invalid SPIR-V now and then (Dawn printed
    // "SPIRV line 136: Operand '43[%43]' cannot be a type" to stdout, into a CLI's JSON output).
    const pipeline = device.createComputePipeline({
      label: `ahead ${source.name}`,
      layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: source.entryPoint, constants: source.constants },
    });
    const entries = bindings.map((binding) => ({ binding: binding.binding, resource: this.placeholder(binding) }));
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    const uniformOffsets = bindings.filter((binding) => binding.kind === 'uniform').map(() => 0);
    pass.setBindGroup(0, device.createBindGroup({ layout, entries }), uniformOffsets);
    pass.dispatchWorkgroups(1);
    pass.end();
    device.queue.submit([encoder.finish()]);
    await quietWait(device.queue.onSubmittedWorkDone());
  }

  private releasePlaceholders(): void {
    for (const resource of this.resources.splice(0)) resource.destroy();
  }

  /** A fresh placeholder for one binding: zeros for a uniform struct (an empty problem), a small buffer or texture otherwise. */
  private placeholder(binding: BindingInfo): GPUBindingResource {
    if (binding.kind === 'read-only-texture' || binding.kind === 'write-only-texture') {
      const texture = this.device.createTexture({ size: [TEXTURE_WIDTH, 1], format: TEXTURE_FORMAT, usage: GPUTextureUsage.STORAGE_BINDING });
      this.resources.push(texture);
      return texture.createView();
    }
    const uniform = binding.kind === 'uniform';
    const buffer = this.device.createBuffer({
      size: uniform ? (binding.uniformSize ?? 16) : PLACEHOLDER_BYTES,
      usage: uniform ? GPUBufferUsage.UNIFORM : GPUBufferUsage.STORAGE,
    });
    this.resources.push(buffer);
    return { buffer };
  }
}

const PLACEHOLDER_BYTES = 256;
