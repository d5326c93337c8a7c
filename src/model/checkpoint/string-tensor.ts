/**
 * TensorFlow's stored layout of a DT_STRING tensor in a tensor bundle (tensor_bundle.cc,
 * WriteStringTensor): the varint64 length of every element, a 4-byte masked CRC32C of those
 * lengths, then the element bytes back to back. The entry's checksum is not a CRC32C of the
 * stored bytes: it runs over each length as a little-endian uint32 (uint64 when the length does
 * not fit in 32 bits), then the four length-checksum bytes, then the element bytes.
 */
import { crc32cExtend, maskCrc32c } from './crc32c.js';
import { pushVarint, readVarint } from './protobuf.js';

const UINT32_MAX = 0xffffffff;

export interface StringTensorLayout {
  /** Each element's bytes, views into the stored bytes. */
  elements: Uint8Array[];
  /** Masked CRC32C as TensorFlow stores it in the tensor's BundleEntryProto. */
  maskedCrc32c: number;
}

function extendWithLength(crc: number, length: number): number {
  if (length <= UINT32_MAX) {
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setUint32(0, length, true);
    return crc32cExtend(crc, bytes);
  }
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(length), true);
  return crc32cExtend(crc, bytes);
}

/**
 * Splits the stored bytes of a string tensor of `count` elements and computes its checksum.
 * Throws an Error saying what is malformed (the caller adds which file and tensor): a bad
 * varint, a length checksum that does not match, or lengths that disagree with the byte count.
 */
export function decodeStringTensor(stored: Uint8Array, count: number): StringTensorLayout {
  if (!Number.isSafeInteger(count) || count < 0) throw new Error(`a string tensor cannot have ${count} elements`);
  // Each element takes at least one length byte, so a count beyond the byte count is malformed (and is not allocated).
  if (count > stored.length) throw new Error(`${count} string elements need at least ${count} length bytes, but the tensor has ${stored.length} bytes`);
  const lengths: number[] = [];
  let offset = 0;
  let crc = 0;
  let total = 0;
  for (let i = 0; i < count; i++) {
    let read;
    try {
      read = readVarint(stored, offset);
    } catch (error) {
      throw new Error(`the length of string element ${i}: ${(error as Error).message}`);
    }
    if (read.value < 0) throw new Error(`string element ${i} has a negative length`);
    lengths.push(read.value);
    total += read.value;
    crc = extendWithLength(crc, read.value);
    offset = read.next;
  }
  if (offset + 4 > stored.length) throw new Error(`the ${stored.length}-byte string tensor ends before its 4-byte length checksum at byte ${offset}`);
  const lengthChecksum = stored.subarray(offset, offset + 4);
  const storedLengthCrc = new DataView(lengthChecksum.buffer, lengthChecksum.byteOffset, 4).getUint32(0, true);
  if (storedLengthCrc !== maskCrc32c(crc)) {
    throw new Error(`the checksum of its string lengths is 0x${storedLengthCrc.toString(16).padStart(8, '0')}, computed 0x${maskCrc32c(crc).toString(16).padStart(8, '0')}`);
  }
  crc = crc32cExtend(crc, lengthChecksum);
  offset += 4;
  if (offset + total !== stored.length) {
    throw new Error(`its string lengths add up to ${total} bytes after a ${offset}-byte prefix, but the tensor has ${stored.length} bytes`);
  }
  const elements: Uint8Array[] = [];
  for (const length of lengths) {
    const element = stored.subarray(offset, offset + length);
    crc = crc32cExtend(crc, element);
    elements.push(element);
    offset += length;
  }
  return { elements, maskedCrc32c: maskCrc32c(crc) };
}

/** The stored bytes of a string tensor holding `elements`, laid out as TensorFlow writes them. */
export function encodeStringTensor(elements: readonly Uint8Array[]): Uint8Array {
  const lengths: number[] = [];
  let crc = 0;
  for (const element of elements) {
    pushVarint(lengths, element.length);
    crc = extendWithLength(crc, element.length);
  }
  const total = elements.reduce((sum, element) => sum + element.length, 0);
  const out = new Uint8Array(lengths.length + 4 + total);
  out.set(lengths, 0);
  new DataView(out.buffer).setUint32(lengths.length, maskCrc32c(crc), true);
  let offset = lengths.length + 4;
  for (const element of elements) {
    out.set(element, offset);
    offset += element.length;
  }
  return out;
}
