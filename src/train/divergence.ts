/**
 * The divergence guard. A step diverges when its loss is not finite, or when it exceeds FACTOR
 * times a reference: the smaller of the run's first loss and the median of the last WINDOW
 * losses. The median (not the mean) keeps one bad step from raising the bar for the next; the
 * first loss catches the explosion that a window alone would follow upwards (at --lr 3 the loss
 * grows 9 -> 91 -> 171 -> 1966 within a few steps, dragging any recent statistic with it). A
 * healthy run's loss stays near or below where it started and moves by percents per step.
 */
export const DIVERGENCE = { window: 50, factor: 10 } as const;

/** What the guard remembers, saved with the trainer state so a resumed run judges as the uninterrupted one. */
export interface LossHistory {
  first: number | null;
  recent: number[];
}

export class DivergenceGuard {
  private first: number | null;
  private readonly recent: number[];

  constructor(history: LossHistory = { first: null, recent: [] }) {
    this.first = history.first;
    this.recent = history.recent.slice(-DIVERGENCE.window);
  }

  /** Why `loss` counts as divergence, or null when it does not; an accepted loss joins the history. */
  check(loss: number): string | null {
    if (!Number.isFinite(loss)) return `the loss is ${loss}`;
    if (this.first !== null && this.recent.length > 0) {
      const median = medianOf(this.recent);
      const reference = Math.min(this.first, median);
      if (loss > DIVERGENCE.factor * reference) {
        const which = reference === this.first ? `the first step's loss ${reference.toPrecision(4)}` : `the median ${reference.toPrecision(4)} of the last ${this.recent.length} steps`;
        return `the loss ${loss.toPrecision(4)} is more than ${DIVERGENCE.factor} times ${which}`;
      }
    }
    this.first ??= loss;
    this.recent.push(loss);
    if (this.recent.length > DIVERGENCE.window) this.recent.shift();
    return null;
  }

  history(): LossHistory {
    return { first: this.first, recent: [...this.recent] };
  }
}

function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
