import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const PYTHON = '/usr/bin/python3';
export const BASELINE_INSTALL = 'apt-get install python3-torch libopenblas0-openmp';

export interface TorchBaseline {
  torch: string;
  threads: number;
  blas: string;
  matmul: { m: number; k: number; n: number; medianMs: number; gflops: number }[];
}

/** Runs the PyTorch baseline script, or returns why it was skipped. */
export function runTorchBaseline(shapes: [number, number, number][]): TorchBaseline | { skipped: string } {
  if (!existsSync(PYTHON)) return { skipped: `${PYTHON} not found (install: ${BASELINE_INSTALL})` };
  const script = fileURLToPath(new URL('../../bench/torch-baseline.py', import.meta.url));
  const result = spawnSync(PYTHON, [script, JSON.stringify(shapes)], { encoding: 'utf8', timeout: 300_000 });
  if (result.status !== 0) {
    const reason = /No module named 'torch'/.test(result.stderr) ? `PyTorch not installed (install: ${BASELINE_INSTALL})` : result.stderr.trim().split('\n').pop();
    return { skipped: reason ?? 'the baseline script failed' };
  }
  return JSON.parse(result.stdout) as TorchBaseline;
}
