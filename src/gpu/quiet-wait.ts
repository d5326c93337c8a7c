/**
 * Waits for a Dawn promise without burning a core.
 *
 * While a promise such as mapAsync or onSubmittedWorkDone is pending, dawn.node re-schedules its
 * event processing through setImmediate in a tight loop, which keeps the main thread at 100 % of a
 * core; on a 2-core machine that halves lavapipe's throughput (see shared/LAVAPIPE.md). During our
 * waits setImmediate spins for at most SPIN_MS and then yields through setTimeout.
 */
const SPIN_MS = 1;

let depth = 0;
const originalSetImmediate = globalThis.setImmediate;

function politeSetImmediate(spinUntil: number) {
  return ((callback: (...args: unknown[]) => void, ...args: unknown[]) => {
    if (performance.now() < spinUntil) return originalSetImmediate(callback, ...args);
    return setTimeout(callback, 0, ...args) as unknown as NodeJS.Immediate;
  }) as typeof setImmediate;
}

export async function quietWait<T>(promise: Promise<T>): Promise<T> {
  if (depth++ === 0) globalThis.setImmediate = politeSetImmediate(performance.now() + SPIN_MS);
  try {
    return await promise;
  } finally {
    if (--depth === 0) globalThis.setImmediate = originalSetImmediate;
  }
}
