/**
 * Counts the bytes of every ArrayBuffer and typed array the code under test asks for, by putting a
 * Proxy around the global constructors (module code looks them up at call time; Node's own
 * internals keep the originals). A request beyond the case's budget is refused with an
 * AllocationBudgetError before any memory is taken, and remembered even when the reader catches
 * and re-wraps that error, so a length field claiming 2^40 bytes fails the case rather than the
 * machine.
 */

const TYPED_ARRAYS = [
  'Uint8Array', 'Uint8ClampedArray', 'Int8Array', 'Uint16Array', 'Int16Array', 'Uint32Array', 'Int32Array',
  'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
] as const;

export class AllocationBudgetError extends Error {
  override readonly name = 'AllocationBudgetError';
}

export interface AllocationViolation {
  requested: number;
  budget: number;
  where: string;
}

export class AllocationMeter {
  /** Bytes requested since `start`. */
  total = 0;
  largest = 0;
  violation: AllocationViolation | null = null;
  private budget = Infinity;
  private active = false;

  start(budget: number): void {
    this.total = 0;
    this.largest = 0;
    this.violation = null;
    this.budget = budget;
    this.active = true;
  }

  stop(): void {
    this.active = false;
  }

  /** Called by the proxies before each construction. */
  request(bytes: number): void {
    if (!this.active) return;
    this.total += bytes;
    this.largest = Math.max(this.largest, bytes);
    if (this.total > this.budget) {
      const where = (new Error().stack ?? '').split('\n').slice(3, 7).map((line) => line.trim()).join(' < ');
      this.violation ??= { requested: bytes, budget: this.budget, where };
      throw new AllocationBudgetError(`allocation of ${bytes} bytes exceeds the case's budget of ${this.budget} bytes`);
    }
  }
}

/** The bytes a constructor call takes: a length, a copied array-like, or none for a view of a buffer. */
function requestedBytes(args: unknown[], bytesPerElement: number): number {
  const first = args[0];
  if (typeof first === 'number') return first * bytesPerElement;
  if (first === undefined || first === null) return 0;
  if (first instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && first instanceof SharedArrayBuffer)) return 0;
  const length = (first as { length?: unknown }).length;
  return typeof length === 'number' ? length * bytesPerElement : 0;
}

let installed: AllocationMeter | null = null;

/** Installs the proxies once per thread and returns the meter they report to. */
export function installAllocationMeter(): AllocationMeter {
  if (installed) return installed;
  const meter = new AllocationMeter();
  const globals = globalThis as unknown as Record<string, unknown>;
  const arrayBuffer = globals.ArrayBuffer as ArrayBufferConstructor;
  globals.ArrayBuffer = new Proxy(arrayBuffer, {
    construct(target, args, newTarget) {
      meter.request(typeof args[0] === 'number' ? args[0] : 0);
      return Reflect.construct(target, args, newTarget);
    },
  });
  for (const name of TYPED_ARRAYS) {
    const constructor = globals[name] as { BYTES_PER_ELEMENT: number } & (new (...args: unknown[]) => object);
    globals[name] = new Proxy(constructor, {
      construct(target, args, newTarget) {
        meter.request(requestedBytes(args, target.BYTES_PER_ELEMENT));
        return Reflect.construct(target, args, newTarget);
      },
    });
  }
  installed = meter;
  return meter;
}
