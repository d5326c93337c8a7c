/**
 * BundleHeaderProto and BundleEntryProto (tensorflow/core/protobuf/tensor_bundle.proto), the
 * values stored in a checkpoint's `.index` table, with TensorFlow's DataType enum.
 */
import { decodeFields, ProtoDecodeError, ProtoWriter, readVarint, WireType } from './protobuf.js';

/** TensorFlow DataType enum values (tensorflow/core/framework/types.proto) with short and TF names. */
const DATA_TYPES: ReadonlyArray<readonly [number, string, string, number | null]> = [
  // [enum value, short name, TF name, bytes per element (null: variable length)]
  [1, 'float32', 'DT_FLOAT', 4],
  [2, 'float64', 'DT_DOUBLE', 8],
  [3, 'int32', 'DT_INT32', 4],
  [4, 'uint8', 'DT_UINT8', 1],
  [5, 'int16', 'DT_INT16', 2],
  [6, 'int8', 'DT_INT8', 1],
  [7, 'string', 'DT_STRING', null],
  [8, 'complex64', 'DT_COMPLEX64', 8],
  [9, 'int64', 'DT_INT64', 8],
  [10, 'bool', 'DT_BOOL', 1],
  [11, 'qint8', 'DT_QINT8', 1],
  [12, 'quint8', 'DT_QUINT8', 1],
  [13, 'qint32', 'DT_QINT32', 4],
  [14, 'bfloat16', 'DT_BFLOAT16', 2],
  [15, 'qint16', 'DT_QINT16', 2],
  [16, 'quint16', 'DT_QUINT16', 2],
  [17, 'uint16', 'DT_UINT16', 2],
  [18, 'complex128', 'DT_COMPLEX128', 16],
  [19, 'float16', 'DT_HALF', 2],
  [20, 'resource', 'DT_RESOURCE', null],
  [21, 'variant', 'DT_VARIANT', null],
  [22, 'uint32', 'DT_UINT32', 4],
  [23, 'uint64', 'DT_UINT64', 8],
  [24, 'float8_e5m2', 'DT_FLOAT8_E5M2', 1],
  [25, 'float8_e4m3fn', 'DT_FLOAT8_E4M3FN', 1],
];

export const DT_FLOAT = 1;
export const DT_STRING = 7;
export const DT_INT64 = 9;

const BY_ENUM = new Map(DATA_TYPES.map(([value, short, tf, size]) => [value, { short, tf, size }]));

/** 'float32', 'int64', 'string', ...; unknown enum values become 'dtype_<n>'. */
export function dtypeName(tfDtype: number): string {
  return BY_ENUM.get(tfDtype)?.short ?? `dtype_${tfDtype}`;
}

/** 'DT_FLOAT', 'DT_INT64', ...; unknown enum values become 'DT_<n>'. */
export function tfDtypeName(tfDtype: number): string {
  return BY_ENUM.get(tfDtype)?.tf ?? `DT_${tfDtype}`;
}

/** Bytes per element, or null for types whose stored layout is not one fixed-size value per element. */
export function dtypeElementSize(tfDtype: number): number | null {
  return BY_ENUM.get(tfDtype)?.size ?? null;
}

export const enum Endianness {
  Little = 0,
  Big = 1,
}

/** The bundle format version this code reads and writes (TensorFlow's kTensorBundleVersion). */
export const TENSOR_BUNDLE_VERSION = 1;

export interface VersionDef {
  producer: number;
  minConsumer: number;
  badConsumers: number[];
}

export interface BundleHeader {
  numShards: number;
  endianness: number;
  version: VersionDef;
}

export interface TensorSliceExtent {
  start: number;
  /** -1 when the slice covers the whole dimension (TensorSliceProto leaves `length` unset). */
  length: number;
}

export interface BundleEntry {
  dtype: number;
  /** Dimension sizes; -1 for an unknown dimension. */
  shape: number[];
  unknownRank: boolean;
  shardId: number;
  offset: number;
  size: number;
  /** Masked CRC32C of the tensor's bytes as stored. */
  crc32c: number;
  /** Non-empty only for a partitioned variable, whose pieces are stored under separate keys. */
  slices: TensorSliceExtent[][];
}

// Field numbers from tensor_bundle.proto, tensor_shape.proto, versions.proto and tensor_slice.proto.
const HEADER_NUM_SHARDS = 1;
const HEADER_ENDIANNESS = 2;
const HEADER_VERSION = 3;
const VERSION_PRODUCER = 1;
const VERSION_MIN_CONSUMER = 2;
const VERSION_BAD_CONSUMERS = 3;
const ENTRY_DTYPE = 1;
const ENTRY_SHAPE = 2;
const ENTRY_SHARD_ID = 3;
const ENTRY_OFFSET = 4;
const ENTRY_SIZE = 5;
const ENTRY_CRC32C = 6;
const ENTRY_SLICES = 7;
const SHAPE_DIM = 2;
const SHAPE_UNKNOWN_RANK = 3;
const DIM_SIZE = 1;
const SLICE_EXTENT = 1;
const EXTENT_START = 1;
const EXTENT_LENGTH = 2;

function expectWireType(actual: WireType, expected: WireType, what: string): void {
  if (actual !== expected) throw new ProtoDecodeError(`${what} has wire type ${actual}, expected ${expected}`);
}

/** A repeated int32 arrives either as separate varint fields or as one packed run of varints. */
function packedOrSingleVarints(bytes: Uint8Array, wireType: WireType, value: number): number[] {
  if (wireType === WireType.Varint) return [value];
  const values: number[] = [];
  for (let offset = 0; offset < bytes.length;) {
    const read = readVarint(bytes, offset);
    values.push(read.value);
    offset = read.next;
  }
  return values;
}

function decodeVersion(bytes: Uint8Array): VersionDef {
  const version: VersionDef = { producer: 0, minConsumer: 0, badConsumers: [] };
  for (const field of decodeFields(bytes)) {
    if (field.fieldNumber === VERSION_PRODUCER) version.producer = field.value;
    else if (field.fieldNumber === VERSION_MIN_CONSUMER) version.minConsumer = field.value;
    else if (field.fieldNumber === VERSION_BAD_CONSUMERS) version.badConsumers.push(...packedOrSingleVarints(field.bytes, field.wireType, field.value));
  }
  return version;
}

export function decodeBundleHeader(bytes: Uint8Array): BundleHeader {
  const header: BundleHeader = { numShards: 0, endianness: 0, version: { producer: 0, minConsumer: 0, badConsumers: [] } };
  for (const field of decodeFields(bytes)) {
    switch (field.fieldNumber) {
      case HEADER_NUM_SHARDS:
        expectWireType(field.wireType, WireType.Varint, 'num_shards');
        header.numShards = field.value;
        break;
      case HEADER_ENDIANNESS:
        expectWireType(field.wireType, WireType.Varint, 'endianness');
        header.endianness = field.value;
        break;
      case HEADER_VERSION:
        expectWireType(field.wireType, WireType.LengthDelimited, 'version');
        header.version = decodeVersion(field.bytes);
        break;
    }
  }
  return header;
}

export function encodeBundleHeader(header: BundleHeader): Uint8Array {
  const version = new ProtoWriter()
    .varintIfNonZero(VERSION_PRODUCER, header.version.producer)
    .varintIfNonZero(VERSION_MIN_CONSUMER, header.version.minConsumer);
  for (const consumer of header.version.badConsumers) version.varint(VERSION_BAD_CONSUMERS, consumer);
  return new ProtoWriter()
    .varintIfNonZero(HEADER_NUM_SHARDS, header.numShards)
    .varintIfNonZero(HEADER_ENDIANNESS, header.endianness)
    .bytes(HEADER_VERSION, version.finish())
    .finish();
}

function decodeDimSize(dim: Uint8Array): number {
  let size = 0;
  for (const field of decodeFields(dim)) {
    if (field.fieldNumber !== DIM_SIZE) continue;
    expectWireType(field.wireType, WireType.Varint, 'TensorShapeProto.Dim.size');
    size = field.value;
  }
  return size;
}

function decodeShape(bytes: Uint8Array): { shape: number[]; unknownRank: boolean } {
  const shape: number[] = [];
  let unknownRank = false;
  for (const field of decodeFields(bytes)) {
    if (field.fieldNumber === SHAPE_DIM) {
      expectWireType(field.wireType, WireType.LengthDelimited, 'TensorShapeProto.dim');
      shape.push(decodeDimSize(field.bytes));
    } else if (field.fieldNumber === SHAPE_UNKNOWN_RANK) {
      unknownRank = field.value !== 0;
    }
  }
  return { shape, unknownRank };
}

function decodeSlice(bytes: Uint8Array): TensorSliceExtent[] {
  const extents: TensorSliceExtent[] = [];
  for (const field of decodeFields(bytes)) {
    if (field.fieldNumber !== SLICE_EXTENT) continue;
    const extent: TensorSliceExtent = { start: 0, length: -1 };
    for (const part of decodeFields(field.bytes)) {
      if (part.fieldNumber === EXTENT_START) extent.start = part.value;
      else if (part.fieldNumber === EXTENT_LENGTH) extent.length = part.value;
    }
    extents.push(extent);
  }
  return extents;
}

export function decodeBundleEntry(bytes: Uint8Array): BundleEntry {
  const entry: BundleEntry = { dtype: 0, shape: [], unknownRank: false, shardId: 0, offset: 0, size: 0, crc32c: 0, slices: [] };
  for (const field of decodeFields(bytes)) {
    switch (field.fieldNumber) {
      case ENTRY_DTYPE:
        expectWireType(field.wireType, WireType.Varint, 'dtype');
        entry.dtype = field.value;
        break;
      case ENTRY_SHAPE: {
        expectWireType(field.wireType, WireType.LengthDelimited, 'shape');
        const { shape, unknownRank } = decodeShape(field.bytes);
        entry.shape = shape;
        entry.unknownRank = unknownRank;
        break;
      }
      case ENTRY_SHARD_ID:
        expectWireType(field.wireType, WireType.Varint, 'shard_id');
        entry.shardId = field.value;
        break;
      case ENTRY_OFFSET:
        expectWireType(field.wireType, WireType.Varint, 'offset');
        entry.offset = field.value;
        break;
      case ENTRY_SIZE:
        expectWireType(field.wireType, WireType.Varint, 'size');
        entry.size = field.value;
        break;
      case ENTRY_CRC32C:
        expectWireType(field.wireType, WireType.Fixed32, 'crc32c');
        entry.crc32c = field.value;
        break;
      case ENTRY_SLICES:
        expectWireType(field.wireType, WireType.LengthDelimited, 'slices');
        entry.slices.push(decodeSlice(field.bytes));
        break;
    }
  }
  return entry;
}

export function encodeBundleEntry(entry: Omit<BundleEntry, 'unknownRank' | 'slices'>): Uint8Array {
  const shape = new ProtoWriter();
  for (const size of entry.shape) shape.bytes(SHAPE_DIM, new ProtoWriter().varintIfNonZero(DIM_SIZE, size).finish());
  return new ProtoWriter()
    .varintIfNonZero(ENTRY_DTYPE, entry.dtype)
    .bytes(ENTRY_SHAPE, shape.finish())
    .varintIfNonZero(ENTRY_SHARD_ID, entry.shardId)
    .varintIfNonZero(ENTRY_OFFSET, entry.offset)
    .varintIfNonZero(ENTRY_SIZE, entry.size)
    .fixed32IfNonZero(ENTRY_CRC32C, entry.crc32c)
    .finish();
}
