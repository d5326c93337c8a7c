import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ModelConfigSpec } from './step.js';

const PYTHON = '/usr/bin/python3';
export const BASELINE_INSTALL = 'apt-get install python3-torch libopenblas0-openmp';

export interface TorchRequest {
  /** 'cuda' runs the baseline on the GPU (float32, TF32 off); default the CPU. */
  device?: 'cpu' | 'cuda';
  matmul: [number, number, number][];
  steps: { config: ModelConfigSpec; rows: number; tokens: number; samples: number }[];
  encode: { config: ModelConfigSpec; rows: number; tokens: number; samples: number }[];
}

export interface TorchBaseline {
  torch: string;
  /** 'cpu', or the CUDA device's name. */
  device: string;
  threads: number;
  blas: string;
  /** The kernel set OpenBLAS chose (openblas_get_corename), or why it is unknown. */
  openblasCore: string;
  matmul: { m: number; k: number; n: number; medianMs: number; gflops: number }[];
  steps: { config: string; rows: number; tokens: number; medianMs: number }[];
  encode: { config: string; rows: number; tokens: number; medianMs: number; sentencesPerSecond: number }[];
}

/**
 * Settings that make OpenBLAS use another CPU's kernels instead of detecting this one's. Some
 * environments set them (OPENBLAS_CORETYPE=Haswell on an AVX-512 machine, say); the baseline
 * runs without them, with OpenBLAS's own choice for this CPU. Only the baseline's process.
 */
const OPENBLAS_OVERRIDES = ['OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE'];

/** The environment of the baseline's process: ours without the OpenBLAS overrides. */
export function baselineEnvironment(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const clean = { ...env };
  for (const name of OPENBLAS_OVERRIDES) delete clean[name];
  return clean;
}

/** Runs the PyTorch baseline script (matmuls, training steps, encoding), or returns why it was skipped. */
export function runTorchBaseline(request: TorchRequest, python = PYTHON): TorchBaseline | { skipped: string } {
  if (python.startsWith('/') && !existsSync(python)) return { skipped: `${python} not found (install: ${BASELINE_INSTALL})` };
  const script = fileURLToPath(new URL('../../bench/torch-baseline.py', import.meta.url));
  const result = spawnSync(python, [script, JSON.stringify(request)], { encoding: 'utf8', timeout: 1_800_000, env: baselineEnvironment() });
  if (result.error) return { skipped: `${python}: ${result.error.message}` };
  if (result.status !== 0) {
    const reason = /No module named 'torch'/.test(result.stderr) ? `PyTorch not installed (install: ${BASELINE_INSTALL})` : result.stderr.trim().split('\n').pop();
    return { skipped: reason ?? 'the baseline script failed' };
  }
  return JSON.parse(result.stdout) as TorchBaseline;
}
