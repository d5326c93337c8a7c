import { TEXTURE_FORMAT } from './kernel.js';
import type { BufferPool } from './pool.js';

/**
 * Texels per texture row. Kernels address a scratch texture linearly: texel t lives at
 * (t & (TEXTURE_WIDTH - 1), t >> TEXTURE_WIDTH_SHIFT), so any matrix fits whatever its shape.
 */
export const TEXTURE_WIDTH_SHIFT = 12;
export const TEXTURE_WIDTH = 1 << TEXTURE_WIDTH_SHIFT;
const TEXEL_BYTES = 16;

/** A storage texture of rgba32float texels lent for scratch use (see ScratchTextures). */
export interface ScratchTexture {
  readonly texture: GPUTexture;
  readonly view: GPUTextureView;
  /** Texels it holds: TEXTURE_WIDTH times its rows. */
  readonly texels: number;
  readonly label: string;
}

/** Rounds a row count up to one of eight classes per power of two, so regrowth wastes at most 12.5 %. */
function rowClass(rows: number): number {
  const step = 2 ** Math.max(0, Math.floor(Math.log2(rows)) - 3);
  return Math.ceil(rows / step) * step;
}

/**
 * Named scratch textures, one per slot, grown when a caller needs more texels than the slot
 * holds. Work recorded earlier may still read a replaced texture, so it is destroyed only after
 * the next submission. Their bytes count against the pool's cap like buffers do.
 */
export class ScratchTextures {
  private readonly slots = new Map<string, ScratchTexture>();
  /** Resident copies of unchanging buffers, by the buffer's pool id (see Gpu.residentTexture). */
  private readonly residents = new Map<number, ScratchTexture>();
  private residentsAllowed = true;
  private retired: ScratchTexture[] = [];

  constructor(
    private readonly device: GPUDevice,
    private readonly pool: BufferPool,
  ) {}

  /** The most texels one scratch texture can hold on this device. */
  get maxTexels(): number {
    return TEXTURE_WIDTH * this.device.limits.maxTextureDimension2D;
  }

  /** The texture of `slot`, holding at least `texels` texels (contents undefined). */
  acquire(slot: string, texels: number): ScratchTexture {
    const current = this.slots.get(slot);
    if (current && current.texels >= texels) return current;
    if (texels > this.maxTexels) {
      throw new Error(`scratch texture '${slot}' needs ${texels} texels; this device allows at most ${this.maxTexels}`);
    }
    const rows = Math.min(rowClass(Math.max(1, Math.ceil(texels / TEXTURE_WIDTH))), this.device.limits.maxTextureDimension2D);
    const label = `texture ${slot}`;
    if (current) {
      this.slots.delete(slot);
      this.retired.push(current);
    }
    const scratch = this.create(rows, label, `${label} (${rows} rows)`);
    this.slots.set(slot, scratch);
    return scratch;
  }

  /**
   * A new texture of at least `texels` texels to hold a copy of the buffer with pool id `bufferId`
   * for as long as that buffer lives, or null: when residents are no longer made (memory ran
   * short once while they held some) or the cap has no free room. The caller records the copy.
   */
  makeResident(bufferId: number, texels: number, bufferLabel: string): ScratchTexture | null {
    if (!this.residentsAllowed) return null;
    this.dropResident(bufferId);
    const rows = Math.max(1, Math.ceil(texels / TEXTURE_WIDTH));
    if (rows > this.device.limits.maxTextureDimension2D) return null;
    // Only into free room: never at the cost of other residents or of a failed allocation later.
    if (!this.pool.hasRoomFor(rows * TEXTURE_WIDTH * TEXEL_BYTES)) return null;
    const label = `resident texture of '${bufferLabel}' #${bufferId}`;
    const resident = this.create(rows, label, label);
    this.residents.set(bufferId, resident);
    return resident;
  }

  /** The resident copy of a buffer, if it has one. */
  residentOf(bufferId: number): ScratchTexture | undefined {
    return this.residents.get(bufferId);
  }

  /** The buffer is going back to the pool: its resident copy goes after the next submission. */
  dropResident(bufferId: number): void {
    const resident = this.residents.get(bufferId);
    if (resident === undefined) return;
    this.residents.delete(bufferId);
    this.retired.push(resident);
  }

  /**
   * Memory is short: every resident copy goes after the next submission, and no more are made
   * (matmuls copy per use again). Returns whether there was any.
   */
  dropAllResidents(): boolean {
    if (this.residents.size === 0) return false;
    this.residentsAllowed = false;
    for (const id of [...this.residents.keys()]) this.dropResident(id);
    return true;
  }

  /** Recorded work has been submitted: replaced textures can go. */
  onSubmit(): void {
    for (const old of this.retired) this.free(old);
    this.retired = [];
  }

  destroy(): void {
    this.onSubmit();
    for (const scratch of [...this.slots.values(), ...this.residents.values()]) this.free(scratch);
    this.slots.clear();
    this.residents.clear();
  }

  /** A texture of `rows` full rows, its bytes reserved in the pool under `reservedLabel` (also its label). */
  private create(rows: number, textureLabel: string, reservedLabel: string): ScratchTexture {
    this.pool.reserve(reservedLabel, rows * TEXTURE_WIDTH * TEXEL_BYTES);
    const texture = this.device.createTexture({
      size: [TEXTURE_WIDTH, rows],
      format: TEXTURE_FORMAT,
      usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.COPY_DST,
      label: textureLabel,
    });
    return { texture, view: texture.createView(), texels: rows * TEXTURE_WIDTH, label: reservedLabel };
  }

  private free(scratch: ScratchTexture): void {
    scratch.texture.destroy();
    this.pool.unreserve(scratch.label);
  }
}
