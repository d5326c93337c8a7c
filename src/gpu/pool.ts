import { formatBytes } from './format.js';

/**
 * A GPU storage buffer lent by the pool. `byteLength` is what the borrower asked for; the
 * underlying buffer may be larger (its size class).
 */
export interface PooledBuffer {
  readonly id: number;
  readonly buffer: GPUBuffer;
  readonly byteLength: number;
  readonly capacity: number;
  readonly label: string;
  released: boolean;
}

export interface PoolStats {
  /** Bytes lent out and not yet released (size classes, as allocated). */
  bytesInUse: number;
  /** Bytes of GPU buffers the pool holds: in use, waiting for their submission, and free. */
  bytesHeld: number;
  peakBytesInUse: number;
  peakBytesHeld: number;
  liveBuffers: number;
  allocations: number;
  reuses: number;
}

export class MemoryLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MemoryLimitError';
  }
}

/**
 * Rounds a request up to its size class: multiples of 256 bytes up to 4 KiB, then eight classes
 * per power of two, so a reused buffer wastes at most 12.5 %.
 */
export function sizeClass(bytes: number): number {
  const atLeast = Math.max(bytes, 4);
  if (atLeast <= 4096) return Math.ceil(atLeast / 256) * 256;
  const step = 2 ** (Math.floor(Math.log2(atLeast)) - 3);
  return Math.ceil(atLeast / step) * step;
}

/**
 * Buffers with size-class free lists and a hard cap on the bytes held. A released buffer waits
 * until the submission that used it has been sent (`onSubmit`) before it can be lent again, so a
 * queue.writeBuffer into a recycled buffer can never overtake commands still to be submitted.
 */
export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  /** Every buffer's place in creation order, by which each free list is kept sorted. */
  private readonly serials = new WeakMap<GPUBuffer, number>();
  private nextSerial = 0;
  private pending: PooledBuffer[] = [];
  private readonly live = new Map<number, PooledBuffer>();
  /** Bytes held outside the pool's buffers (scratch textures), by label. */
  private readonly reserved = new Map<string, number>();
  private nextId = 1;
  private stats: PoolStats = {
    bytesInUse: 0, bytesHeld: 0, peakBytesInUse: 0, peakBytesHeld: 0, liveBuffers: 0, allocations: 0, reuses: 0,
  };

  /**
   * @param requestSubmit called under memory pressure when released buffers wait for a
   *   submission; it must submit the recorded work (which calls `onSubmit`).
   * @param dropOptional called when even that leaves too little room: it may give up reserved
   *   memory that is only a speed-up (resident textures, freed at the next submission) and says
   *   whether it did.
   */
  constructor(
    private readonly device: GPUDevice,
    readonly capBytes: number,
    private readonly requestSubmit: () => void,
    private readonly dropOptional: () => boolean = () => false,
  ) {
    if (!(capBytes > 0)) throw new Error(`memory limit must be positive, got ${capBytes}`);
  }

  acquire(byteLength: number, label: string): PooledBuffer {
    if (!Number.isFinite(byteLength) || byteLength < 0) throw new Error(`invalid buffer size ${byteLength} for '${label}'`);
    const capacity = sizeClass(byteLength);
    let buffer = this.takeFree(capacity);
    if (buffer) this.stats.reuses++;
    else {
      this.makeRoom(capacity, byteLength, label);
      buffer = this.device.createBuffer({
        size: capacity,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
        label,
      });
      this.serials.set(buffer, this.nextSerial++);
      this.stats.bytesHeld += capacity;
      this.stats.allocations++;
    }
    const lent: PooledBuffer = { id: this.nextId++, buffer, byteLength, capacity, label, released: false };
    this.live.set(lent.id, lent);
    this.stats.bytesInUse += capacity;
    this.stats.liveBuffers++;
    this.stats.peakBytesInUse = Math.max(this.stats.peakBytesInUse, this.stats.bytesInUse);
    this.stats.peakBytesHeld = Math.max(this.stats.peakBytesHeld, this.stats.bytesHeld);
    return lent;
  }

  release(lent: PooledBuffer): void {
    if (lent.released) throw new Error(`buffer '${lent.label}' released twice`);
    lent.released = true;
    this.live.delete(lent.id);
    this.stats.bytesInUse -= lent.capacity;
    this.stats.liveBuffers--;
    this.pending.push(lent);
  }

  /**
   * Counts `byteLength` bytes of GPU memory the caller allocates itself (a texture) against the
   * cap, as in use until `unreserve(label)`.
   */
  reserve(label: string, byteLength: number): void {
    if (this.reserved.has(label)) throw new Error(`'${label}' is already reserved`);
    this.makeRoom(byteLength, byteLength, label);
    this.reserved.set(label, byteLength);
    this.stats.bytesHeld += byteLength;
    this.stats.bytesInUse += byteLength;
    this.stats.peakBytesInUse = Math.max(this.stats.peakBytesInUse, this.stats.bytesInUse);
    this.stats.peakBytesHeld = Math.max(this.stats.peakBytesHeld, this.stats.bytesHeld);
  }

  /** Whether `byteLength` more bytes fit under the cap beside what is in use (free buffers can be trimmed). */
  hasRoomFor(byteLength: number): boolean {
    return this.stats.bytesInUse + byteLength <= this.capBytes;
  }

  unreserve(label: string): void {
    const byteLength = this.reserved.get(label);
    if (byteLength === undefined) throw new Error(`'${label}' is not reserved`);
    this.reserved.delete(label);
    this.stats.bytesHeld -= byteLength;
    this.stats.bytesInUse -= byteLength;
  }

  /**
   * The recorded work that may have used the pending buffers has been submitted. Free lists are
   * kept in creation order, not release order, so that work repeated from the same free buffers
   * (a training step after the last) gets the same buffers in the same roles, and its bind groups
   * are found again (see BindGroupCache).
   */
  onSubmit(): void {
    const grown = new Set<number>();
    for (const lent of this.pending) {
      this.pushFree(lent.capacity, lent.buffer);
      grown.add(lent.capacity);
    }
    this.pending = [];
    const serial = (buffer: GPUBuffer) => this.serials.get(buffer) ?? 0;
    for (const capacity of grown) this.free.get(capacity)?.sort((a, b) => serial(b) - serial(a));
  }

  /** Destroys every free buffer (pending ones stay until their submission). */
  trim(): void {
    for (const [capacity, buffers] of this.free) {
      for (const buffer of buffers) {
        buffer.destroy();
        this.stats.bytesHeld -= capacity;
      }
    }
    this.free.clear();
  }

  snapshot(): PoolStats {
    return { ...this.stats };
  }

  resetPeaks(): void {
    this.stats.peakBytesInUse = this.stats.bytesInUse;
    this.stats.peakBytesHeld = this.stats.bytesHeld;
  }

  /** The largest live allocations, for memory-limit messages and debugging. */
  largestLive(count: number): PooledBuffer[] {
    return [...this.live.values()].sort((a, b) => b.capacity - a.capacity).slice(0, count);
  }

  private takeFree(capacity: number): GPUBuffer | undefined {
    const list = this.free.get(capacity);
    return list && list.length > 0 ? list.pop() : undefined;
  }

  private pushFree(capacity: number, buffer: GPUBuffer): void {
    const list = this.free.get(capacity);
    if (list) list.push(buffer);
    else this.free.set(capacity, [buffer]);
  }

  private makeRoom(capacity: number, byteLength: number, label: string): void {
    const fits = () => this.stats.bytesHeld + capacity <= this.capBytes;
    const fitsAfterSubmitting = () => {
      this.requestSubmit();
      this.trim();
      return fits();
    };
    if (fits()) return;
    this.trim();
    if (fits()) return;
    if (this.pending.length > 0 && fitsAfterSubmitting()) return;
    if (this.dropOptional() && fitsAfterSubmitting()) return;
    const largest = [
      ...this.largestLive(5).map((lent): [string, number] => [lent.label, lent.capacity]),
      ...this.reserved.entries(),
    ]
      .sort((x, y) => y[1] - x[1])
      .slice(0, 5)
      .map(([name, bytes]) => `'${name}' ${formatBytes(bytes)}`)
      .join(', ');
    throw new MemoryLimitError(
      `GPU memory limit exceeded: '${label}' needs ${formatBytes(byteLength)} (${formatBytes(capacity)} with its size class), ` +
        `but ${formatBytes(this.stats.bytesInUse)} is in use of the ${formatBytes(this.capBytes)} cap. ` +
        `Largest live allocations: ${largest || 'none'}. Raise --memory-limit or lower --batch-size / --maxlen.`,
    );
  }
}
