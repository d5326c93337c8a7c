import { quietWait } from './quiet-wait.js';

/**
 * GPU time per kernel from timestamp queries (bench and profiling scripts only: it puts every
 * dispatch in a compute pass of its own, which costs a little on every adapter). The GPU stamps
 * each pass's start and end; the stamps of a submission are resolved into a buffer recorded at
 * the end of that submission and read back without blocking the next one.
 */
export interface KernelTime {
  name: string;
  dispatches: number;
  milliseconds: number;
}

/** Dispatches stamped per submission: two queries each, within WebGPU's 4096 queries per set. */
const DISPATCHES_PER_SUBMISSION = 2048;

export class KernelProfiler {
  private readonly querySet: GPUQuerySet;
  private readonly resolveBuffer: GPUBuffer;
  private readonly readbacks: GPUBuffer[] = [];
  private names: string[] = [];
  private readonly pending: Promise<void>[] = [];
  private readonly totals = new Map<string, { dispatches: number; nanoseconds: number }>();

  /** Times each kernel separately per dispatch grid (a profiling script sets it to tell a kernel's problem sizes apart). */
  byGrid = false;

  constructor(private readonly device: GPUDevice) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 * DISPATCHES_PER_SUBMISSION, label: 'kernel profiler' });
    this.resolveBuffer = device.createBuffer({
      size: 16 * DISPATCHES_PER_SUBMISSION, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, label: 'kernel profiler resolve',
    });
  }

  /** True when the current submission has no stamps left: submit before the next dispatch. */
  get full(): boolean {
    return this.names.length >= DISPATCHES_PER_SUBMISSION;
  }

  /** A compute pass whose start and end the GPU stamps for `name`; holds exactly one dispatch. */
  beginPass(encoder: GPUCommandEncoder, name: string, grid: readonly number[]): GPUComputePassEncoder {
    const index = this.names.length;
    this.names.push(this.byGrid ? `${name} (${grid.join(' x ')})` : name);
    return encoder.beginComputePass({
      label: name,
      timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: 2 * index, endOfPassWriteIndex: 2 * index + 1 },
    });
  }

  /** Records the resolve of this submission's stamps; call with the encoder before it is finished. */
  resolve(encoder: GPUCommandEncoder): (() => void) | null {
    const count = this.names.length;
    if (count === 0) return null;
    const names = this.names;
    this.names = [];
    const bytes = 16 * count;
    const readback = this.readbacks.pop()
      ?? this.device.createBuffer({ size: 16 * DISPATCHES_PER_SUBMISSION, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'kernel profiler readback' });
    encoder.resolveQuerySet(this.querySet, 0, 2 * count, this.resolveBuffer, 0);
    encoder.copyBufferToBuffer(this.resolveBuffer, 0, readback, 0, bytes);
    // Called once the submission is queued: map the stamps when the GPU has written them.
    return () => {
      this.pending.push(readback.mapAsync(GPUMapMode.READ, 0, bytes).then(() => {
        const stamps = new BigUint64Array(readback.getMappedRange(0, bytes).slice(0));
        readback.unmap();
        this.readbacks.push(readback);
        names.forEach((name, i) => {
          const entry = this.totals.get(name) ?? { dispatches: 0, nanoseconds: 0 };
          entry.dispatches++;
          const elapsed = stamps[2 * i + 1] - stamps[2 * i];
          entry.nanoseconds += elapsed > 0n ? Number(elapsed) : 0;
          this.totals.set(name, entry);
        });
      }));
    };
  }

  /** Kernel times since the last reset, longest first; waits for stamps still being read. */
  async report(): Promise<KernelTime[]> {
    await quietWait(Promise.all(this.pending.splice(0)));
    return [...this.totals]
      .map(([name, t]) => ({ name, dispatches: t.dispatches, milliseconds: t.nanoseconds / 1e6 }))
      .sort((a, b) => b.milliseconds - a.milliseconds);
  }

  async reset(): Promise<void> {
    await quietWait(Promise.all(this.pending.splice(0)));
    this.totals.clear();
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolveBuffer.destroy();
    for (const buffer of this.readbacks) buffer.destroy();
  }
}
