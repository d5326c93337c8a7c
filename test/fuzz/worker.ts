/**
 * One reader's fuzz cases in a worker thread, so the test can stop a case that hangs: the case
 * index in progress goes to shared memory before each case, the summary back by message.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { installAllocationMeter } from './allocation-meter.js';
import { runCases } from './harness.js';
import { findTarget } from './targets.js';

export interface WorkerInput {
  target: string;
  seed: number;
  first: number;
  cases: number;
  dir: string;
  saveDir: string;
  /** Three Int32s: the index of the case in progress, results and own errors so far. */
  progress: SharedArrayBuffer;
}

const input = workerData as WorkerInput;
const target = findTarget(input.target);
const seeds = target.seeds(input.dir);
const meter = installAllocationMeter();
const progress = new Int32Array(input.progress);
const summary = runCases(target, seeds, {
  ...input,
  meter,
  onCase: (caseIndex) => Atomics.store(progress, 0, caseIndex),
  onPass: (kind) => Atomics.add(progress, kind === 'result' ? 1 : 2, 1),
});
parentPort?.postMessage(summary);
