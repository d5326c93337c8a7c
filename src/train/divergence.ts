/**
 * The divergence guard. A step diverges when its loss is not finite, or when, after WARMUP steps,
 * it exceeds FACTOR times the median of the last WINDOW losses. The median (not the mean) is the
 * reference so that one bad step does not raise the bar for the next; a healthy run's loss moves
 * by a few percent per step, while a run driven by too high a learning rate grows by orders of
 * magnitude within a few steps (9 -> 1966 at --lr 3).
 */
export const DIVERGENCE = { window: 50, warmup: 20, factor: 10 } as const;

export class DivergenceGuard {
  private readonly recent: number[];

  constructor(recent: readonly number[] = []) {
    this.recent = recent.slice(-DIVERGENCE.window);
  }

  /** Why `loss` counts as divergence, or null when it does not; a finite, accepted loss joins the window. */
  check(loss: number): string | null {
    if (!Number.isFinite(loss)) return `the loss is ${loss}`;
    if (this.recent.length >= DIVERGENCE.warmup) {
      const median = medianOf(this.recent);
      if (loss > DIVERGENCE.factor * median) {
        return `the loss ${loss.toPrecision(4)} is more than ${DIVERGENCE.factor} times the median ${median.toPrecision(4)} of the last ${this.recent.length} steps`;
      }
    }
    this.recent.push(loss);
    if (this.recent.length > DIVERGENCE.window) this.recent.shift();
    return null;
  }

  /** The window, saved with the trainer state so a resumed run judges as the uninterrupted one. */
  losses(): number[] {
    return [...this.recent];
  }
}

function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
