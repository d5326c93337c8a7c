/**
 * Writes TensorFlow V2 checkpoints (tensor bundles) the way TensorFlow's BundleWriter does:
 * tensor bytes go to the data shard in the order they are added, with no padding; the `.index`
 * table holds the header under the empty key and one BundleEntryProto per tensor, sorted by key.
 * Files are written under temporary names and renamed into place, data first, index last.
 */
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { maskedCrc32c } from '../model/checkpoint/crc32c.js';
import { DT_FLOAT, DT_STRING, encodeBundleEntry, encodeBundleHeader, Endianness, TENSOR_BUNDLE_VERSION } from '../model/checkpoint/bundle-proto.js';
import { CheckpointReader, elementCount } from '../model/checkpoint/bundle-reader.js';
import { CheckpointError } from '../model/checkpoint/errors.js';
import { buildTable, compareBytes, type TableEntry, type TableOptions } from '../model/checkpoint/leveldb-table.js';
import { checkpointPrefix, dataShardFileName, indexFileName } from '../model/checkpoint/paths.js';
import { decodeStringTensor } from '../model/checkpoint/string-tensor.js';
import type { CheckpointTensor } from '../model/checkpoint/bundle-encoding.js';

/** A tensor of any dtype given as its stored bytes (for DT_STRING, TensorFlow's varint-length layout). */
export interface RawCheckpointTensor {
  name: string;
  tfDtype: number;
  shape: number[];
  bytes: Uint8Array;
}

export interface WriteCheckpointOptions extends TableOptions {
  /** Number of data shards; tensors go to shard 0 unless `add` says otherwise. Default 1. */
  numShards?: number;
}

interface PendingShard {
  finalPath: string;
  temporaryPath: string;
  fd: number;
  size: number;
}

/** Incremental writer: `add` streams each tensor's bytes to its shard, `finish` writes the index. */
export class BundleWriter {
  readonly prefix: string;
  private readonly numShards: number;
  private readonly shards = new Map<number, PendingShard>();
  private readonly entries = new Map<string, Uint8Array>();
  private done = false;

  constructor(prefix: string, private readonly options: WriteCheckpointOptions = {}) {
    this.prefix = checkpointPrefix(prefix);
    this.numShards = options.numShards ?? 1;
    if (!Number.isInteger(this.numShards) || this.numShards < 1) throw new CheckpointError(`numShards must be a positive integer, got ${this.numShards}`);
  }

  add(name: string, tfDtype: number, shape: readonly number[], bytes: Uint8Array, shardId = 0): void {
    if (this.done) throw new CheckpointError(`${this.prefix}: the checkpoint writer is already finished`);
    if (name === '') throw new CheckpointError(`${this.prefix}: a tensor name must not be empty (the empty key holds the bundle header)`);
    if (this.entries.has(name)) throw new CheckpointError(`${this.prefix}: tensor '${name}' is added twice`);
    this.checkShape(name, shape);
    if (!Number.isInteger(shardId) || shardId < 0 || shardId >= this.numShards) {
      throw new CheckpointError(`${this.prefix}: tensor '${name}' is assigned to shard ${shardId} of ${this.numShards}`);
    }
    const crc32c = tfDtype === DT_STRING ? this.stringTensorCrc(name, shape, bytes) : maskedCrc32c(bytes);
    const shard = this.openShard(shardId);
    const offset = shard.size;
    writeAll(shard.fd, bytes, shard.temporaryPath);
    shard.size += bytes.length;
    this.entries.set(name, encodeBundleEntry({ dtype: tfDtype, shape: [...shape], shardId, offset, size: bytes.length, crc32c }));
  }

  addFloat32(name: string, shape: readonly number[], data: Float32Array, shardId = 0): void {
    this.checkShape(name, shape);
    if (data.length !== elementCount(shape)) {
      throw new CheckpointError(`${this.prefix}: tensor '${name}' has shape [${shape.join(', ')}] (${elementCount(shape)} values) but ${data.length} values`);
    }
    this.add(name, DT_FLOAT, shape, new Uint8Array(data.buffer, data.byteOffset, data.byteLength), shardId);
  }

  /** Writes every shard (an empty one where nothing was added) and then the index. */
  finish(): void {
    if (this.done) throw new CheckpointError(`${this.prefix}: the checkpoint writer is already finished`);
    for (let shardId = 0; shardId < this.numShards; shardId++) this.openShard(shardId);
    const encoder = new TextEncoder();
    const keyed = [...this.entries].map(([name, value]) => ({ key: encoder.encode(name), value }));
    keyed.sort((a, b) => compareBytes(a.key, b.key));
    const header = encodeBundleHeader({
      numShards: this.numShards,
      endianness: Endianness.Little,
      version: { producer: TENSOR_BUNDLE_VERSION, minConsumer: 0, badConsumers: [] },
    });
    const table: TableEntry[] = [{ key: new Uint8Array(0), value: header }, ...keyed];
    const index = buildTable(table, this.options);
    try {
      for (const shard of this.shards.values()) {
        closeSync(shard.fd);
        shard.fd = -1;
        renameSync(shard.temporaryPath, shard.finalPath);
      }
      const indexPath = indexFileName(this.prefix);
      const temporaryIndex = temporaryName(indexPath);
      const fd = openSync(temporaryIndex, 'w');
      try {
        writeAll(fd, index, temporaryIndex);
      } finally {
        closeSync(fd);
      }
      renameSync(temporaryIndex, indexPath);
    } catch (error) {
      this.abort();
      throw error instanceof CheckpointError ? error : new CheckpointError(`${this.prefix}: writing the checkpoint failed: ${(error as Error).message}`);
    }
    this.done = true;
  }

  /** Removes whatever temporary files were written. */
  abort(): void {
    for (const shard of this.shards.values()) {
      if (shard.fd >= 0) closeSync(shard.fd);
      shard.fd = -1;
      rmSync(shard.temporaryPath, { force: true });
    }
    this.done = true;
  }

  /** Refuses bytes that are not TensorFlow's string layout, which TensorFlow could not read back. */
  private stringTensorCrc(name: string, shape: readonly number[], bytes: Uint8Array): number {
    try {
      return decodeStringTensor(bytes, elementCount(shape)).maskedCrc32c;
    } catch (error) {
      throw new CheckpointError(`${this.prefix}: string tensor '${name}' is not in TensorFlow's string layout: ${(error as Error).message}`);
    }
  }

  private checkShape(name: string, shape: readonly number[]): void {
    if (shape.some((size) => !Number.isSafeInteger(size) || size < 0)) {
      throw new CheckpointError(`${this.prefix}: tensor '${name}' has an invalid shape [${shape.join(', ')}]`);
    }
  }

  private openShard(shardId: number): PendingShard {
    let shard = this.shards.get(shardId);
    if (!shard) {
      const finalPath = dataShardFileName(this.prefix, shardId, this.numShards);
      const temporaryPath = temporaryName(finalPath);
      let fd: number;
      try {
        fd = openSync(temporaryPath, 'w');
      } catch (error) {
        throw new CheckpointError(`${temporaryPath}: cannot create: ${(error as Error).message}`);
      }
      shard = { finalPath, temporaryPath, fd, size: 0 };
      this.shards.set(shardId, shard);
    }
    return shard;
  }
}

function temporaryName(path: string): string {
  return `${path}.tempstate${process.pid}`;
}

function writeAll(fd: number, bytes: Uint8Array, path: string): void {
  let written = 0;
  try {
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
  } catch (error) {
    throw new CheckpointError(`${path}: write failed: ${(error as Error).message}`);
  }
}

function runWriter(prefix: string, options: WriteCheckpointOptions, fill: (writer: BundleWriter) => void): void {
  const writer = new BundleWriter(prefix, options);
  try {
    fill(writer);
  } catch (error) {
    writer.abort();
    throw error;
  }
  writer.finish();
}

/** Writes float32 tensors as a one-shard checkpoint, data in sorted name order as TensorFlow's Saver does. */
export function writeCheckpoint(prefix: string, tensors: CheckpointTensor[], options: WriteCheckpointOptions = {}): void {
  const encoder = new TextEncoder();
  const sorted = [...tensors].sort((a, b) => compareBytes(encoder.encode(a.name), encoder.encode(b.name)));
  runWriter(prefix, options, (writer) => {
    for (const tensor of sorted) writer.addFloat32(tensor.name, tensor.shape, tensor.data);
  });
}

/** Writes tensors of any dtype from their stored bytes, data in sorted name order. */
export function writeRawCheckpoint(prefix: string, tensors: RawCheckpointTensor[], options: WriteCheckpointOptions = {}): void {
  const encoder = new TextEncoder();
  const sorted = [...tensors].sort((a, b) => compareBytes(encoder.encode(a.name), encoder.encode(b.name)));
  runWriter(prefix, options, (writer) => {
    for (const tensor of sorted) writer.add(tensor.name, tensor.tfDtype, tensor.shape, tensor.bytes);
  });
}

/**
 * Re-writes a checkpoint tensor by tensor (bytes passed through, every CRC checked on the way),
 * keeping each tensor's shard and the order of the source data files, so the output matches the
 * source wherever TensorFlow's own layout is deterministic. `rename` may map or drop (null) names.
 */
export function copyCheckpoint(
  reader: CheckpointReader,
  destinationPrefix: string,
  options: WriteCheckpointOptions & { rename?: (name: string) => string | null } = {},
): void {
  if (!reader.hasData) throw new CheckpointError(`${reader.missingDataFiles[0]}: data shard is missing, so '${reader.prefix}' cannot be copied`);
  const inDataOrder = [...reader.tensors].sort((a, b) => a.shardId - b.shardId || a.offset - b.offset);
  runWriter(destinationPrefix, { numShards: reader.header.numShards, ...options }, (writer) => {
    for (const tensor of inDataOrder) {
      const name = options.rename ? options.rename(tensor.name) : tensor.name;
      if (name === null) continue;
      writer.add(name, tensor.tfDtype, tensor.shape, reader.readBytes(tensor.name), tensor.shardId);
    }
  });
}
