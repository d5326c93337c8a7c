/** TensorFlow V2 checkpoint (tensor bundle) reading and writing. */
export { CheckpointError } from './errors.js';
export {
  bytesShard, CheckpointReader, elementCount, parseCheckpointIndex, type CheckpointTensorInfo, type ShardReader, type SkippedTensor,
} from './bundle-reader.js';
export {
  BundleWriter, copyCheckpoint, writeCheckpoint, writeRawCheckpoint,
  type CheckpointTensor, type RawCheckpointTensor, type WriteCheckpointOptions,
} from './bundle-writer.js';
export { encodeCheckpoint, type EncodedCheckpoint } from './bundle-encoding.js';
export { DT_FLOAT, DT_INT64, DT_STRING, dtypeElementSize, dtypeName, tfDtypeName } from './bundle-proto.js';
export { DEFAULT_BLOCK_SIZE, DEFAULT_RESTART_INTERVAL, TENSORFLOW_BLOCK_SIZE } from './leveldb-table.js';
export { checkpointPrefix, dataShardFileName, indexFileName } from './paths.js';
export { crc32c, maskCrc32c, maskedCrc32c, unmaskCrc32c } from './crc32c.js';
export { decodeStringTensor, encodeStringTensor, type StringTensorLayout } from './string-tensor.js';
