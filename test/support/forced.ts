/**
 * Runs `body` once per value, each forced in turn through `force` (a kernel-version override such
 * as setMatmulVariant), and restores the per-adapter choice (`force(null)`) even when body throws.
 */
export async function forEachForced<T>(values: readonly T[], force: (value: T | null) => void, body: (value: T) => Promise<void>): Promise<void> {
  for (const value of values) {
    force(value);
    try {
      await body(value);
    } finally {
      force(null);
    }
  }
}
