/**
 * Reads a TensorFlow V2 checkpoint (tensor bundle) from bytes: the `.index` table is parsed whole
 * (it is small), tensor bytes are read from the `.data-NNNNN-of-NNNNN` shards by offset on demand
 * through a ShardReader (a file in Node, bytes in memory in a browser), and every read is checked
 * against the tensor's stored CRC32C.
 */
import { maskedCrc32c } from './crc32c.js';
import {
  decodeBundleEntry, decodeBundleHeader, dtypeElementSize, dtypeName, DT_FLOAT, DT_STRING, Endianness, type BundleEntry, type BundleHeader,
  TENSOR_BUNDLE_VERSION, tfDtypeName,
} from './bundle-proto.js';
import { CheckpointError } from './errors.js';
import { readTable } from './leveldb-table.js';
import { dataShardFileName, indexFileName } from './paths.js';
import { decodeStringTensor } from './string-tensor.js';

/** One data shard's bytes, read by offset. */
export interface ShardReader {
  readonly size: number;
  /** Exactly `length` bytes from `offset` (within `size`); throws an Error on a failed read. */
  read(offset: number, length: number): Uint8Array;
  close(): void;
}

/** A shard held in memory (a fetched or picked file). */
export function bytesShard(bytes: Uint8Array): ShardReader {
  return { size: bytes.length, read: (offset, length) => bytes.slice(offset, offset + length), close: () => {} };
}

/** The parsed `.index` of a checkpoint: what it holds and which data shards hold it. */
export interface CheckpointIndex {
  /** The checkpoint prefix as messages show it (a path or URL without `.index`). */
  readonly prefix: string;
  readonly indexPath: string;
  readonly header: BundleHeader;
  /** Every tensor, sorted by name as stored (bytewise). */
  readonly tensors: CheckpointTensorInfo[];
  /** The data shard files the header calls for, in shard order, named as `prefix` is. */
  readonly dataFiles: string[];
}

export interface CheckpointTensorInfo {
  name: string;
  /** Short dtype name: 'float32', 'int64', 'string', ... */
  dtype: string;
  /** TensorFlow DataType enum value (DT_FLOAT = 1, ...). */
  tfDtype: number;
  /** Dimension sizes; [] for a scalar, -1 for a dimension the checkpoint leaves unknown. */
  shape: number[];
  shardId: number;
  offset: number;
  byteSize: number;
  /** Masked CRC32C of the stored bytes. */
  crc32c: number;
  /** A partitioned variable: its pieces are stored under other keys and it cannot be read whole. */
  partitioned: boolean;
}

export interface SkippedTensor {
  name: string;
  reason: string;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((count, size) => count * size, 1);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Parses a checkpoint's `.index` bytes; `prefix` names the checkpoint in messages. */
export function parseCheckpointIndex(prefix: string, file: Uint8Array): CheckpointIndex {
  const indexPath = indexFileName(prefix);
  const decoder = new TextDecoder();
  const tensors: CheckpointTensorInfo[] = [];
  try {
    const entries = readTable(file);
    if (entries.length === 0 || entries[0].key.length !== 0) throw new Error('it has no bundle header (the entry with the empty key)');
    const header = decodeBundleHeader(entries[0].value);
    checkHeader(header);
    for (const { key, value } of entries.slice(1)) {
      const name = decoder.decode(key);
      let entry: BundleEntry;
      try {
        entry = decodeBundleEntry(value);
      } catch (error) {
        throw new Error(`the entry for '${name}' is not a valid BundleEntryProto: ${describe(error)}`);
      }
      if (entry.shardId < 0 || entry.shardId >= header.numShards) {
        throw new Error(`'${name}' is in shard ${entry.shardId}, but the header says there are ${header.numShards} shards`);
      }
      if (entry.offset < 0 || entry.size < 0) throw new Error(`'${name}' has a negative offset or size`);
      tensors.push({
        name, dtype: dtypeName(entry.dtype), tfDtype: entry.dtype, shape: entry.shape, shardId: entry.shardId,
        offset: entry.offset, byteSize: entry.size, crc32c: entry.crc32c, partitioned: entry.slices.length > 0,
      });
    }
    checkNoOverlap(tensors);
    const dataFiles = Array.from({ length: header.numShards }, (_, shard) => dataShardFileName(prefix, shard, header.numShards));
    return { prefix, indexPath, header, tensors, dataFiles };
  } catch (error) {
    throw new CheckpointError(`${indexPath}: ${describe(error)}`);
  }
}

/** TensorFlow names data shards with five digits (`.data-00000-of-00001`). */
const MAX_SHARDS = 99999;

export class CheckpointReader {
  readonly prefix: string;
  readonly indexPath: string;
  readonly header: BundleHeader;
  /** Every tensor, sorted by name as stored (bytewise). */
  readonly tensors: CheckpointTensorInfo[];
  /** The data shard files the header calls for, in shard order. */
  readonly dataFiles: string[];
  /** Those of `dataFiles` that are absent. */
  readonly missingDataFiles: string[];
  private readonly byName: Map<string, CheckpointTensorInfo>;
  private closed = false;

  /** `shards[i]` reads `index.dataFiles[i]`, or is null when that file is absent. */
  constructor(index: CheckpointIndex, private readonly shards: readonly (ShardReader | null)[]) {
    if (shards.length !== index.dataFiles.length) {
      throw new Error(`${index.indexPath}: ${shards.length} data shard readers given for ${index.dataFiles.length} shards`);
    }
    this.prefix = index.prefix;
    this.indexPath = index.indexPath;
    this.header = index.header;
    this.tensors = index.tensors;
    this.dataFiles = index.dataFiles;
    this.byName = new Map(index.tensors.map((tensor) => [tensor.name, tensor]));
    this.missingDataFiles = this.dataFiles.filter((_, shard) => shards[shard] === null);
  }

  /** True when every data shard exists; with only the `.index`, tensors can be listed but not read. */
  get hasData(): boolean {
    return this.missingDataFiles.length === 0;
  }

  get(name: string): CheckpointTensorInfo | undefined {
    return this.byName.get(name);
  }

  /** The tensor's bytes exactly as stored, after checking its CRC32C. */
  readBytes(name: string): Uint8Array {
    const tensor = this.entry(name);
    const elementSize = dtypeElementSize(tensor.tfDtype);
    const knownShape = !tensor.shape.some((size) => size < 0);
    if (elementSize !== null && knownShape && elementCount(tensor.shape) * elementSize !== tensor.byteSize) {
      throw new CheckpointError(
        `${this.indexPath}: '${name}' is ${tensor.dtype} of shape [${tensor.shape.join(', ')}], which is ${elementCount(tensor.shape) * elementSize} bytes, but its entry says ${tensor.byteSize}`,
      );
    }
    const bytes = this.readStored(tensor);
    this.checkCrc(tensor, bytes);
    return bytes;
  }

  /** Checks a tensor's stored bytes against its CRC32C, whatever its dtype. */
  verify(name: string): void {
    this.readBytes(name);
  }

  /** A float32 tensor's values (row-major), CRC-checked; throws for any other dtype. */
  readFloat32(name: string): Float32Array {
    const tensor = this.entry(name);
    if (tensor.tfDtype !== DT_FLOAT) {
      throw new CheckpointError(`${this.indexPath}: '${name}' is ${tensor.dtype} (${tfDtypeName(tensor.tfDtype)}), not float32`);
    }
    if (tensor.shape.some((size) => size < 0)) {
      throw new CheckpointError(`${this.indexPath}: '${name}' has an unknown dimension in shape [${tensor.shape.join(', ')}]`);
    }
    const bytes = this.readBytes(name);
    return new Float32Array(bytes.buffer, bytes.byteOffset, elementCount(tensor.shape));
  }

  /**
   * Every float32 tensor accepted by `include` (all by default), CRC-checked; tensors of other
   * dtypes and partitioned variables are left out and listed in `skipped` with the reason.
   */
  loadFloat32(include: (tensor: CheckpointTensorInfo) => boolean = () => true): { tensors: Map<string, Float32Array>; skipped: SkippedTensor[] } {
    const tensors = new Map<string, Float32Array>();
    const skipped: SkippedTensor[] = [];
    for (const tensor of this.tensors) {
      if (!include(tensor)) continue;
      const reason = this.float32SkipReason(tensor);
      if (reason) skipped.push({ name: tensor.name, reason });
      else tensors.set(tensor.name, this.readFloat32(tensor.name));
    }
    return { tensors, skipped };
  }

  close(): void {
    if (this.closed) return;
    for (const shard of this.shards) shard?.close();
    this.closed = true;
  }

  private float32SkipReason(tensor: CheckpointTensorInfo): string | null {
    if (tensor.partitioned) return `'${tensor.name}' is a partitioned variable, which is not supported`;
    if (tensor.tfDtype !== DT_FLOAT) return `'${tensor.name}' is ${tensor.dtype} (${tfDtypeName(tensor.tfDtype)}); only float32 tensors are loaded`;
    return null;
  }

  private entry(name: string): CheckpointTensorInfo {
    const tensor = this.byName.get(name);
    if (!tensor) throw new CheckpointError(`${this.indexPath}: no tensor named '${name}'`);
    if (tensor.partitioned) throw new CheckpointError(`${this.indexPath}: '${name}' is a partitioned variable, which is not supported`);
    return tensor;
  }

  private shard(shardId: number): { file: string; shard: ShardReader } {
    const file = this.dataFiles[shardId];
    if (this.closed) throw new CheckpointError(`${this.indexPath}: the reader is closed`);
    const shard = this.shards[shardId];
    if (!shard) throw new CheckpointError(`${file}: data shard is missing (needed by ${this.indexPath})`);
    return { file, shard };
  }

  private readStored(tensor: CheckpointTensorInfo): Uint8Array {
    const { file, shard } = this.shard(tensor.shardId);
    if (tensor.offset + tensor.byteSize > shard.size) {
      throw new CheckpointError(
        `${file}: '${tensor.name}' occupies bytes ${tensor.offset}..${tensor.offset + tensor.byteSize} but the file has only ${shard.size} bytes; it is truncated`,
      );
    }
    try {
      return shard.read(tensor.offset, tensor.byteSize);
    } catch (error) {
      throw new CheckpointError(`${file}: ${describe(error)} while reading '${tensor.name}'`);
    }
  }

  /** TensorFlow checksums a string tensor over its lengths and bytes, not over the stored bytes (see string-tensor.ts). */
  private stringTensorCrc(tensor: CheckpointTensorInfo, bytes: Uint8Array, file: string): number {
    if (tensor.shape.some((size) => size < 0)) {
      throw new CheckpointError(`${file}: '${tensor.name}' is a string tensor of unknown shape [${tensor.shape.join(', ')}], so its elements cannot be counted`);
    }
    try {
      return decodeStringTensor(bytes, elementCount(tensor.shape)).maskedCrc32c;
    } catch (error) {
      throw new CheckpointError(`${file}: '${tensor.name}' (string tensor at bytes ${tensor.offset}..${tensor.offset + tensor.byteSize}) is malformed: ${describe(error)}`);
    }
  }

  private checkCrc(tensor: CheckpointTensorInfo, bytes: Uint8Array): void {
    const file = this.dataFiles[tensor.shardId];
    const actual = tensor.tfDtype === DT_STRING ? this.stringTensorCrc(tensor, bytes, file) : maskedCrc32c(bytes);
    if (actual !== tensor.crc32c) {
      throw new CheckpointError(
        `${file}: '${tensor.name}' fails its checksum (bytes ${tensor.offset}..${tensor.offset + tensor.byteSize}: stored CRC32C ${hex(tensor.crc32c)}, computed ${hex(actual)}); the data is corrupt`,
      );
    }
  }
}

/**
 * TensorFlow writes each tensor's bytes once, one after another; entries sharing bytes would let a
 * small file make the reader return (and a loader keep) many times its size.
 */
function checkNoOverlap(tensors: readonly CheckpointTensorInfo[]): void {
  const stored = tensors.filter((tensor) => tensor.byteSize > 0).sort((a, b) => a.shardId - b.shardId || a.offset - b.offset);
  for (let i = 1; i < stored.length; i++) {
    const previous = stored[i - 1] as CheckpointTensorInfo;
    const tensor = stored[i] as CheckpointTensorInfo;
    if (tensor.shardId === previous.shardId && tensor.offset < previous.offset + previous.byteSize) {
      throw new Error(
        `'${tensor.name}' (bytes ${tensor.offset}..${tensor.offset + tensor.byteSize}) overlaps '${previous.name}' (bytes ${previous.offset}..${previous.offset + previous.byteSize}) in shard ${tensor.shardId}`,
      );
    }
  }
}

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}

function checkHeader(header: BundleHeader): void {
  if (header.numShards < 1 || header.numShards > MAX_SHARDS) {
    throw new Error(`the bundle header declares ${header.numShards} data shards (expected 1 to ${MAX_SHARDS})`);
  }
  if (header.endianness !== Endianness.Little) {
    throw new Error('the bundle is big-endian; only little-endian checkpoints are supported (as in TensorFlow on little-endian hosts)');
  }
  const { minConsumer, badConsumers } = header.version;
  if (minConsumer > TENSOR_BUNDLE_VERSION || badConsumers.includes(TENSOR_BUNDLE_VERSION)) {
    throw new Error(
      `the bundle needs a reader of format version >= ${minConsumer}${badConsumers.length ? ` other than ${badConsumers.join(', ')}` : ''}; this reader is version ${TENSOR_BUNDLE_VERSION}`,
    );
  }
}
