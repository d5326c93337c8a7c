/**
 * The decoding attention kernel alone (cachedAttention, gen_synonyms-shaped): `inputs` inputs of a
 * 22-token source, 100 rows each, the seed configuration's 12 heads of 64, at several numbers of
 * generated keys. Prints the median milliseconds per call of `samples` timed batches of 10 calls,
 * in the version chosen for the adapter or the one named.
 *
 *   node build/bench/cached-attention.js [inputs] [samples] [rows|subgroup]
 */
import { loadavg } from 'node:os';
import { cachedAttention, type CachedRow } from '../src/autograd/ops/decoding.js';
import { Tensor } from '../src/autograd/tensor.js';
import { cachedAttentionVariant, setCachedAttentionVariant } from '../src/kernels/cached-attention.js';
import { initNodeEngine } from '../src/node/gpu.js';
import { median } from './stats.js';

const inputs = Number(process.argv[2] ?? 1);
const samples = Number(process.argv[3] ?? 5);
const ROWS_PER_INPUT = 100;
const SOURCE = 22;
const MAX_GEN = 32;
const HEADS = 12;
const HIDDEN = 768;
const CALLS = 10;

const gpu = await initNodeEngine();
const variant = process.argv[4];
if (variant !== undefined) {
  if (variant !== 'rows' && variant !== 'subgroup') throw new Error(`version must be rows or subgroup, got '${variant}'`);
  setCachedAttentionVariant(variant);
}
const rowCount = inputs * ROWS_PER_INPUT;
const filled = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37));
const cache = {
  srcK: Tensor.fromArray(filled(inputs * SOURCE * HIDDEN), [inputs * SOURCE, HIDDEN]),
  srcV: Tensor.fromArray(filled(inputs * SOURCE * HIDDEN), [inputs * SOURCE, HIDDEN]),
  genK: Tensor.fromArray(filled(rowCount * MAX_GEN * HIDDEN), [rowCount * MAX_GEN, HIDDEN]),
  genV: Tensor.fromArray(filled(rowCount * MAX_GEN * HIDDEN), [rowCount * MAX_GEN, HIDDEN]),
};
const q = Tensor.fromArray(filled(rowCount * HIDDEN), [rowCount, HIDDEN]);
const rows: CachedRow[] = Array.from({ length: rowCount }, (_, r) => ({ srcStart: Math.floor(r / ROWS_PER_INPUT) * SOURCE, srcLen: SOURCE, genStart: r * MAX_GEN }));

console.log(`adapter: ${gpu.adapterKind}, version ${cachedAttentionVariant(gpu)}; load average (1 min) ${loadavg()[0].toFixed(2)}`);
console.log(`| rows | generated keys | ms per call |\n|---:|---:|---:|`);
for (const genLen of [1, 8, 16, 32]) {
  const times: number[] = [];
  for (let s = -1; s < samples; s++) {
    const started = performance.now();
    for (let c = 0; c < CALLS; c++) cachedAttention(q, cache, rows, HEADS, genLen).release();
    await gpu.sync();
    if (s >= 0) times.push((performance.now() - started) / CALLS);
  }
  console.log(`| ${rowCount} | ${genLen} | ${median(times).toFixed(2)} |`);
}
for (const t of [q, ...Object.values(cache)]) t.release();
gpu.destroy();
process.exit(0);
