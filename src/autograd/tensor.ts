import type { PooledBuffer } from '../gpu/pool.js';
import { activeGpu } from './engine.js';

export type Shape = readonly number[];

export function shapeSize(shape: Shape): number {
  return shape.reduce((product, dim) => product * dim, 1);
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/** Tensors created while a scope is open are released when it closes, unless kept or returned. */
const openScopes: Set<Tensor>[] = [];

/**
 * A float32 tensor in GPU memory. Autograd state (grad, requiresGrad) lives here; the
 * differentiable operations and the tape are in ops/ and tape.ts.
 */
export class Tensor {
  readonly size: number;
  grad: Tensor | null = null;
  /** Set by the tape for tensors produced by a recorded op; leaves have none. */
  producedByOp = false;
  /**
   * The contents never change while the tensor lives (an inference-only model's weights), so
   * kernels may keep copies of it in other forms across uses. Set by whoever owns it.
   */
  constant = false;
  private storage: PooledBuffer | null;

  constructor(
    readonly shape: Shape,
    storage: PooledBuffer,
    public requiresGrad = false,
  ) {
    this.size = shapeSize(shape);
    this.storage = storage;
    openScopes[openScopes.length - 1]?.add(this);
  }

  /** An uninitialised tensor. */
  static empty(shape: Shape, label: string): Tensor {
    const size = shapeSize(shape);
    return new Tensor(shape, activeGpu().allocate(size * 4, `${label} ${formatShape(shape)}`));
  }

  static zeros(shape: Shape, label = 'zeros'): Tensor {
    const tensor = Tensor.empty(shape, label);
    activeGpu().clear(tensor.buffer);
    return tensor;
  }

  static fromArray(data: ArrayLike<number>, shape: Shape, options: { requiresGrad?: boolean; label?: string } = {}): Tensor {
    const size = shapeSize(shape);
    if (data.length !== size) throw new Error(`${data.length} values do not fill shape ${formatShape(shape)} (${size})`);
    const values = data instanceof Float32Array ? data : Float32Array.from(data);
    const label = `${options.label ?? 'tensor'} ${formatShape(shape)}`;
    return new Tensor(shape, activeGpu().upload(values, label), options.requiresGrad ?? false);
  }

  get label(): string {
    return this.storage?.label ?? 'released tensor';
  }

  get released(): boolean {
    return this.storage === null;
  }

  /** The GPU storage; for autograd ops and optimizers only (model code never needs it). */
  get buffer(): PooledBuffer {
    if (this.storage === null) throw new Error(`tensor ${formatShape(this.shape)} was used after release`);
    return this.storage;
  }

  /** True for a view that shares another tensor's storage. */
  get isView(): boolean {
    return false;
  }

  /** The tensor that owns this one's storage: itself, or a view's base. */
  get storageOwner(): Tensor {
    return this;
  }

  get rank(): number {
    return this.shape.length;
  }

  async toArray(): Promise<Float32Array> {
    return new Float32Array(await activeGpu().read(this.buffer, this.size * 4));
  }

  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item() needs a tensor of one element, got ${formatShape(this.shape)}`);
    return (await this.toArray())[0];
  }

  /** Returns the storage to the pool (reusable after the next submission). Idempotent. */
  release(): void {
    if (this.storage === null) return;
    activeGpu().release(this.storage);
    this.storage = null;
    for (const scope of openScopes) scope.delete(this);
  }

  /** A tensor sharing this one's storage with another shape of the same size (not tracked by scopes' ownership twice). */
  view(shape: Shape): Tensor {
    if (shapeSize(shape) !== this.size) throw new Error(`cannot view ${formatShape(this.shape)} as ${formatShape(shape)}`);
    return new TensorView(shape, this);
  }
}

/** Shares storage with its base; releasing a view does nothing, the base owns the memory. */
class TensorView extends Tensor {
  constructor(shape: Shape, private readonly base: Tensor) {
    super(shape, base.buffer, false);
  }

  override get buffer(): PooledBuffer {
    return this.base.buffer;
  }

  override get released(): boolean {
    return this.base.released;
  }

  override get isView(): boolean {
    return true;
  }

  override get storageOwner(): Tensor {
    return this.base.storageOwner;
  }

  override release(): void {
    for (const scope of openScopes) scope.delete(this);
  }
}

/** Removes a tensor from every open scope, so closing them does not release it. */
export function keep<T extends Tensor>(tensor: T): T {
  for (const scope of openScopes) scope.delete(tensor);
  return tensor;
}

type Returned = Tensor | Tensor[] | Record<string, Tensor> | void | number | undefined;

function returnedTensors(value: Returned): Tensor[] {
  if (value instanceof Tensor) return [value];
  if (Array.isArray(value)) return value;
  if (value && typeof value === 'object') return Object.values(value).filter((v): v is Tensor => v instanceof Tensor);
  return [];
}

/**
 * Runs `body` and releases every tensor it created, except the ones it returns (which move to
 * the enclosing scope) and the ones passed to `keep`.
 */
export function scope<T extends Returned>(body: () => T): T {
  const owned = new Set<Tensor>();
  openScopes.push(owned);
  let result: T;
  try {
    result = body();
  } finally {
    openScopes.pop();
  }
  // A returned view survives with the tensor that owns its storage.
  const survivors = new Set(returnedTensors(result).flatMap((tensor) => [tensor, tensor.storageOwner]));
  for (const tensor of owned) {
    if (survivors.has(tensor)) openScopes[openScopes.length - 1]?.add(tensor);
    else tensor.release();
  }
  return result;
}
