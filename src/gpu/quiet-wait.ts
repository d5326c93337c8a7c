/**
 * Waits for a Dawn promise without burning a core.
 *
 * While a promise such as mapAsync or onSubmittedWorkDone is pending, dawn.node re-schedules its
 * event processing through setImmediate in a tight loop, which keeps the main thread at 100 % of a
 * core; on a 2-core machine that halves lavapipe's throughput (see shared/LAVAPIPE.md). During our
 * waits setImmediate spins for at most SPIN_MS and then polls through setTimeout, at an interval
 * that grows with the time already waited (1/16 of it, at most MAX_POLL_MS): a wake-up comes at
 * most ~6 % late, and a long wait (a 15 s training step) costs a few hundred polls, not 15,000.
 */
const SPIN_MS = 1;
const MAX_POLL_MS = 16;

let depth = 0;
const originalSetImmediate = globalThis.setImmediate;

function politeSetImmediate(waitStarted: number) {
  return ((callback: (...args: unknown[]) => void, ...args: unknown[]) => {
    const waited = performance.now() - waitStarted;
    if (waited < SPIN_MS) return originalSetImmediate(callback, ...args);
    return setTimeout(callback, Math.min(MAX_POLL_MS, waited / 16), ...args) as unknown as NodeJS.Immediate;
  }) as typeof setImmediate;
}

export async function quietWait<T>(promise: Promise<T>): Promise<T> {
  if (typeof originalSetImmediate !== 'function') return promise; // a browser: nothing spins
  if (depth++ === 0) globalThis.setImmediate = politeSetImmediate(performance.now());
  try {
    return await promise;
  } finally {
    if (--depth === 0) globalThis.setImmediate = originalSetImmediate;
  }
}
