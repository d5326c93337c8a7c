import { DT_FLOAT, encodeBundleEntry, encodeBundleHeader, Endianness, TENSOR_BUNDLE_VERSION } from './bundle-proto.js';
import { elementCount } from './bundle-reader.js';
import { crc32cExtend, maskCrc32c } from './crc32c.js';
import { CheckpointError } from './errors.js';
import { buildTable, compareBytes, type TableEntry } from './leveldb-table.js';

/** A float32 tensor to save under a TensorFlow variable name. */
export interface CheckpointTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** A one-shard float32 checkpoint as bytes: the `.index` table and the data shard as views of the tensors. */
export interface EncodedCheckpoint {
  index: Uint8Array;
  /** The data shard's bytes in order (views of the tensors' arrays, not copies). */
  data: Uint8Array[];
}

/**
 * Encodes float32 tensors as TensorFlow's Saver lays them out (data in sorted name order, no
 * padding), for writers that put the bytes somewhere themselves (a run directory that flushes
 * every file before committing, or a browser download). BundleWriter streams the same layout.
 */
export function encodeCheckpoint(tensors: readonly CheckpointTensor[]): EncodedCheckpoint {
  const encoder = new TextEncoder();
  const keyed = tensors.map((tensor) => ({ tensor, key: encoder.encode(tensor.name) }));
  keyed.sort((a, b) => compareBytes(a.key, b.key));
  const data: Uint8Array[] = [];
  const entries: TableEntry[] = [];
  let offset = 0;
  for (const { tensor, key } of keyed) {
    if (tensor.shape.some((size) => !Number.isSafeInteger(size) || size < 0) || tensor.data.length !== elementCount(tensor.shape)) {
      throw new CheckpointError(`tensor '${tensor.name}' has shape [${tensor.shape.join(', ')}] but ${tensor.data.length} values`);
    }
    if (entries.length > 0 && compareBytes(entries[entries.length - 1].key, key) === 0) throw new CheckpointError(`tensor '${tensor.name}' is given twice`);
    const bytes = new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
    const crc32c = maskCrc32c(crc32cExtend(0, bytes));
    entries.push({ key, value: encodeBundleEntry({ dtype: DT_FLOAT, shape: [...tensor.shape], shardId: 0, offset, size: bytes.length, crc32c }) });
    data.push(bytes);
    offset += bytes.length;
  }
  const header = encodeBundleHeader({
    numShards: 1,
    endianness: Endianness.Little,
    version: { producer: TENSOR_BUNDLE_VERSION, minConsumer: 0, badConsumers: [] },
  });
  return { index: buildTable([{ key: new Uint8Array(0), value: header }, ...entries]), data };
}
