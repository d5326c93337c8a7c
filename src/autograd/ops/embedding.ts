import * as kernels from '../../kernels/embedding.js';
import { activeGpu } from '../engine.js';
import { record } from '../tape.js';
import { formatShape, Tensor } from '../tensor.js';

/**
 * Rows of `table` [rows, cols] picked by integer ids (host values; `shape` is the ids' shape):
 * the result is [...shape, cols]. The backward scatter-adds into the table's gradient.
 */
export function embedding(table: Tensor, ids: ArrayLike<number>, shape: readonly number[]): Tensor {
  const [rows, cols] = table.shape;
  if (table.rank !== 2) throw new Error(`embedding: table must be 2-D, got ${formatShape(table.shape)}`);
  const count = shape.reduce((p, d) => p * d, 1);
  if (ids.length !== count) throw new Error(`embedding: ${ids.length} ids for shape ${formatShape(shape)}`);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!Number.isInteger(id) || id < 0 || id >= rows) throw new Error(`embedding: id ${id} at ${i} is outside the table of ${rows} rows`);
  }
  const gpu = activeGpu();
  const idBuffer = gpu.upload(Uint32Array.from(ids), 'embedding.ids');
  const out = Tensor.empty([...shape, cols], 'embedding');
  kernels.embeddingGather(gpu, table.buffer, idBuffer, out.buffer, count, rows, cols);
  gpu.release(idBuffer);
  return record(out, [table], (grad, accumulated) => {
    const groups = kernels.groupIds(ids);
    const rowIds = gpu.upload(groups.rowIds, 'embedding.rowIds');
    const offsets = gpu.upload(groups.offsets, 'embedding.offsets');
    const positions = gpu.upload(groups.positions, 'embedding.positions');
    // Scatter-add straight into the table's gradient when other uses (a tied output layer) already made one.
    const dTable = accumulated[0] ?? Tensor.zeros(table.shape, 'grad');
    kernels.embeddingScatterAdd(gpu, grad.buffer, { rowIds, offsets, positions, count: groups.rowIds.length }, dTable.buffer, cols);
    for (const buffer of [rowIds, offsets, positions]) gpu.release(buffer);
    return [dTable];
  });
}
