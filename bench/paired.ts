/**
 * `train` against PyTorch's step on the same shapes, the two measured in turn, round after round.
 * This machine's speed drifts by up to 1.6x within one bench run, ours and PyTorch's alike, so a
 * ratio of two figures taken minutes apart says more about the hour than about the code; each
 * round's ratio here compares measurements a minute apart, and the median of the rounds is the
 * figure the bench's targets use.
 */
import { runTorchBaseline } from './baseline.js';
import { median } from './stats.js';
import type { ModelConfigSpec } from './step.js';
import { benchTrain, type TrainShape } from './train.js';

export interface PairedRound {
  /** `train`'s mean seconds per step (metrics.jsonl), the first step included, in ms. */
  oursMs: number;
  /** PyTorch's median step at the full maxlen, in ms. */
  torchMs: number;
}

export interface PairedResult {
  config: string;
  rows: number;
  maxlen: number;
  rounds: PairedRound[];
  /** Medians over the rounds of each side's ms per step. */
  medianOursMs: number;
  medianTorchMs: number;
  /** Median over the rounds of PyTorch's ms over ours: our speed relative to PyTorch's. */
  medianSpeedRatio: number;
}

/** `rounds` rounds of `train` for `steps` steps, then PyTorch's step (3 samples after a warm-up), or why PyTorch was skipped. */
export async function benchPairedTrain(
  spec: ModelConfigSpec, shape: TrainShape, steps: number, rounds: number,
): Promise<PairedResult | { skipped: string }> {
  const measured: PairedRound[] = [];
  for (let round = 0; round < rounds; round++) {
    const ours = await benchTrain(spec, shape, steps);
    const torch = runTorchBaseline({ matmul: [], steps: [{ config: spec, rows: shape.batchSize, tokens: shape.maxlen, samples: 3 }], encode: [] });
    if ('skipped' in torch) return torch;
    measured.push({ oursMs: ours.meanMs, torchMs: torch.steps[0].medianMs });
  }
  return {
    config: spec.name, rows: shape.batchSize, maxlen: shape.maxlen, rounds: measured,
    medianOursMs: median(measured.map((r) => r.oursMs)), medianTorchMs: median(measured.map((r) => r.torchMs)),
    medianSpeedRatio: median(measured.map((r) => r.torchMs / r.oursMs)),
  };
}
