import type { EpochRecord, StepRecord } from '../train/trainer.js';

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(s % 60).padStart(2, '0')}s`;
}

function formatMetric(value: number | null): string {
  return value === null ? 'n/a' : value.toFixed(4);
}

/**
 * Training progress on stderr: a live bar redrawn in place on a terminal, plain lines every
 * `interval` seconds (and at epoch ends) otherwise, so logs stay readable.
 */
export class Progress {
  private totalSteps = 0;
  private readonly started = performance.now();
  private lastLine = 0;
  private recentSeconds: number[] = [];

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly interval = 10,
  ) {}

  private get live(): boolean {
    return this.stream.isTTY === true;
  }

  begin(stepsPerEpoch: number, totalSteps: number): void {
    this.totalSteps = totalSteps;
    this.print(`training: ${totalSteps} steps (${stepsPerEpoch} per epoch)`);
  }

  step(record: StepRecord): void {
    this.recentSeconds.push(record.seconds);
    if (this.recentSeconds.length > 20) this.recentSeconds.shift();
    const perStep = this.recentSeconds.reduce((a, b) => a + b, 0) / this.recentSeconds.length;
    const eta = formatDuration(perStep * (this.totalSteps - record.step));
    const width = 24;
    const filled = Math.round((record.step / Math.max(1, this.totalSteps)) * width);
    const text =
      `step ${record.step}/${this.totalSteps} epoch ${record.epoch} loss ${record.loss.toFixed(4)} ` +
      `(seq2seq ${record.seq2seq_loss.toFixed(4)}, similarity ${record.similarity_loss.toFixed(4)}) ` +
      `${record.rows_per_second.toFixed(1)} rows/s ETA ${eta}`;
    if (this.live) {
      this.stream.write(`\r\x1b[K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}`);
      return;
    }
    const now = performance.now();
    if (record.step === 1 || record.step === this.totalSteps || now - this.lastLine >= this.interval * 1000) {
      this.lastLine = now;
      this.stream.write(`${text}\n`);
    }
  }

  epoch(record: EpochRecord): void {
    this.print(
      `epoch ${record.epoch}: accuracy@${record.threshold} ${formatMetric(record.accuracy)}, best threshold ` +
        `${formatMetric(record.best_threshold)} -> ${formatMetric(record.best_threshold_accuracy)}, AUC ${formatMetric(record.auc)}, ` +
        `Spearman ${formatMetric(record.spearman)}, best accuracy so far ${formatMetric(record.best_accuracy)}`,
    );
  }

  print(message: string): void {
    if (this.live) this.stream.write('\r\x1b[K');
    this.stream.write(`${message}\n`);
  }

  finish(): void {
    this.print(`done in ${formatDuration((performance.now() - this.started) / 1000)}`);
  }
}
