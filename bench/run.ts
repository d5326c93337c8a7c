/** `npm run bench`: prints the adapter and kernel throughput beside the PyTorch CPU baseline. */
import { initEngine } from '../src/autograd/engine.js';
import { adapterPreferenceFromEnv } from '../src/gpu/adapter.js';
import { runTorchBaseline } from './baseline.js';
import { benchMatmul, MATMUL_SHAPES } from './matmul.js';

const gpu = await initEngine({ adapter: adapterPreferenceFromEnv() });
console.log(`adapter: ${gpu.adapterKind} (${gpu.adapterDescription})`);
console.log(`date: ${new Date().toISOString()}`);
const baseline = runTorchBaseline(MATMUL_SHAPES);
if ('skipped' in baseline) console.log(`pytorch baseline: skipped: ${baseline.skipped}`);
else console.log(`pytorch baseline: torch ${baseline.torch}, ${baseline.threads} threads, BLAS ${baseline.blas}`);

console.log('\nmatmul (float32, median of samples)');
console.log('  M x K x N              ms      GFLOP/s   pytorch GFLOP/s   ratio');
for (const result of await benchMatmul()) {
  const torch = 'skipped' in baseline ? undefined : baseline.matmul.find((b) => b.m === result.m && b.k === result.k && b.n === result.n);
  const shape = `${result.m} x ${result.k} x ${result.n}`.padEnd(20);
  const torchText = torch ? torch.gflops.toFixed(1).padStart(10) : '   skipped';
  const ratio = torch ? (result.gflops / torch.gflops).toFixed(2).padStart(10) : '';
  console.log(`  ${shape}${result.medianMs.toFixed(2).padStart(8)}${result.gflops.toFixed(1).padStart(12)}${torchText.padStart(18)}${ratio}`);
}
gpu.destroy();
process.exit(0);
