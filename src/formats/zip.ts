/**
 * A reader for the zip archives PyTorch writes (torch.save since 1.6): every entry stored
 * uncompressed, the central directory at the end, zip64 records when an offset or size passes
 * 4 GiB. Compressed, encrypted or multi-disk archives are refused. Every offset and size is
 * checked against the archive's length before use, and an entry's CRC-32 is checked when read.
 */
import { FormatError } from './errors.js';

const LOCAL_HEADER = 0x04034b50;
const CENTRAL_HEADER = 0x02014b50;
const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const ZIP64_END_OF_CENTRAL_DIRECTORY = 0x06064b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EXTRA_FIELD = 0x0001;
const END_RECORD_BYTES = 22;
const ZIP64_LOCATOR_BYTES = 20;
const ZIP64_END_RECORD_BYTES = 56;
const CENTRAL_HEADER_BYTES = 46;
const LOCAL_HEADER_BYTES = 30;
const MAX_COMMENT_BYTES = 0xffff;
const STORED = 0;
const ENCRYPTED_FLAG = 0x1;

export interface ZipEntry {
  name: string;
  /** Absolute byte range of the entry's (stored) data. */
  begin: number;
  end: number;
  crc32: number;
}

export interface ZipArchive {
  readonly source: string;
  /** Entries in central-directory order. */
  readonly entries: ZipEntry[];
  has(name: string): boolean;
  get(name: string): ZipEntry | undefined;
  /** The entry's bytes (a view into the archive), after checking its CRC-32. */
  read(name: string): Uint8Array;
}

const CRC32_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
    table[byte] = crc >>> 0;
  }
  return table;
})();

/** The zip (ISO-HDLC) CRC-32 of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = CRC32_TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

class Cursor {
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array, private readonly source: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  need(offset: number, length: number, what: string): void {
    if (offset < 0 || offset + length > this.bytes.length) {
      throw new FormatError(`${this.source}: ${what} at byte ${offset} (${length} bytes) lies outside the ${this.bytes.length}-byte archive; it is truncated or corrupt`);
    }
  }

  u16(offset: number): number {
    return this.view.getUint16(offset, true);
  }

  u32(offset: number): number {
    return this.view.getUint32(offset, true);
  }

  u64(offset: number, what: string): number {
    const value = this.view.getBigUint64(offset, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError(`${this.source}: ${what} is ${value}, beyond any real archive`);
    return Number(value);
  }
}

interface Directory {
  count: number;
  offset: number;
  size: number;
  /** Where the end records begin: the central directory must end at or before it. */
  limit: number;
}

function findEndRecord(bytes: Uint8Array, cursor: Cursor, source: string): number {
  const earliest = Math.max(0, bytes.length - END_RECORD_BYTES - MAX_COMMENT_BYTES);
  for (let at = bytes.length - END_RECORD_BYTES; at >= earliest; at--) {
    if (cursor.u32(at) === END_OF_CENTRAL_DIRECTORY && at + END_RECORD_BYTES + cursor.u16(at + 20) === bytes.length) return at;
  }
  throw new FormatError(`${source}: no zip end-of-central-directory record; it is not a zip archive or it is truncated`);
}

function readDirectory(bytes: Uint8Array, cursor: Cursor, source: string): Directory {
  if (bytes.length < END_RECORD_BYTES) throw new FormatError(`${source}: ${bytes.length} bytes is too short for a zip archive`);
  const end = findEndRecord(bytes, cursor, source);
  if (cursor.u16(end + 4) !== 0 || cursor.u16(end + 6) !== 0) throw new FormatError(`${source}: a multi-disk zip archive is not supported`);
  let count = cursor.u16(end + 10);
  let size = cursor.u32(end + 12);
  let offset = cursor.u32(end + 16);
  let limit = end;
  if (count === 0xffff || size === 0xffffffff || offset === 0xffffffff) {
    const locator = end - ZIP64_LOCATOR_BYTES;
    cursor.need(locator, ZIP64_LOCATOR_BYTES, 'the zip64 end-of-central-directory locator');
    if (cursor.u32(locator) !== ZIP64_LOCATOR) throw new FormatError(`${source}: the end record asks for zip64 but there is no zip64 locator before it`);
    const record = cursor.u64(locator + 8, 'the zip64 end record offset');
    cursor.need(record, ZIP64_END_RECORD_BYTES, 'the zip64 end-of-central-directory record');
    if (record + ZIP64_END_RECORD_BYTES > locator || cursor.u32(record) !== ZIP64_END_OF_CENTRAL_DIRECTORY) {
      throw new FormatError(`${source}: the zip64 locator points at byte ${record}, where there is no zip64 end record`);
    }
    count = cursor.u64(record + 32, 'the zip64 entry count');
    size = cursor.u64(record + 40, 'the zip64 central directory size');
    offset = cursor.u64(record + 48, 'the zip64 central directory offset');
    limit = record;
  }
  if (offset + size > limit) throw new FormatError(`${source}: the central directory (bytes ${offset}..${offset + size}) runs into the end records at byte ${limit}`);
  if (count * CENTRAL_HEADER_BYTES > size) throw new FormatError(`${source}: ${count} entries cannot fit in a ${size}-byte central directory`);
  return { count, offset, size, limit };
}

/** Values the zip64 extra field replaces, in the order the format lists them. */
function applyZip64Extra(cursor: Cursor, extra: number, extraEnd: number, fields: { size: number; compressed: number; local: number }, source: string, name: string): void {
  for (let at = extra; at + 4 <= extraEnd;) {
    const id = cursor.u16(at);
    const length = cursor.u16(at + 2);
    const body = at + 4;
    if (body + length > extraEnd) throw new FormatError(`${source}: entry '${name}' has an extra field running past its header`);
    if (id === ZIP64_EXTRA_FIELD) {
      let next = body;
      const take = (what: string): number => {
        if (next + 8 > body + length) throw new FormatError(`${source}: entry '${name}' has a zip64 field too short for its ${what}`);
        const value = cursor.u64(next, `the zip64 ${what} of '${name}'`);
        next += 8;
        return value;
      };
      if (fields.size === 0xffffffff) fields.size = take('size');
      if (fields.compressed === 0xffffffff) fields.compressed = take('compressed size');
      if (fields.local === 0xffffffff) fields.local = take('local header offset');
    }
    at = body + length;
  }
}

/** Parses the archive's directory and checks every entry's local header; `source` names the file in errors. */
export function readZip(bytes: Uint8Array, source: string): ZipArchive {
  const cursor = new Cursor(bytes, source);
  const directory = readDirectory(bytes, cursor, source);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const entries: ZipEntry[] = [];
  const byName = new Map<string, ZipEntry>();
  let at = directory.offset;
  const directoryEnd = directory.offset + directory.size;
  for (let index = 0; index < directory.count; index++) {
    if (at + CENTRAL_HEADER_BYTES > directoryEnd || cursor.u32(at) !== CENTRAL_HEADER) {
      throw new FormatError(`${source}: central directory entry ${index} at byte ${at} is not a zip file header`);
    }
    const flags = cursor.u16(at + 8);
    const method = cursor.u16(at + 10);
    const fields = { compressed: cursor.u32(at + 20), size: cursor.u32(at + 24), local: cursor.u32(at + 42) };
    const nameLength = cursor.u16(at + 28);
    const extraLength = cursor.u16(at + 30);
    const commentLength = cursor.u16(at + 32);
    const nameStart = at + CENTRAL_HEADER_BYTES;
    const next = nameStart + nameLength + extraLength + commentLength;
    if (next > directoryEnd) throw new FormatError(`${source}: central directory entry ${index} runs past the directory`);
    let name: string;
    try {
      name = decoder.decode(bytes.subarray(nameStart, nameStart + nameLength));
    } catch {
      throw new FormatError(`${source}: central directory entry ${index} has a name that is not UTF-8`);
    }
    applyZip64Extra(cursor, nameStart + nameLength, nameStart + nameLength + extraLength, fields, source, name);
    if (flags & ENCRYPTED_FLAG) throw new FormatError(`${source}: entry '${name}' is encrypted`);
    if (method !== STORED) {
      throw new FormatError(`${source}: entry '${name}' is compressed (method ${method}); PyTorch stores entries uncompressed, so this archive was not written by torch.save`);
    }
    if (fields.compressed !== fields.size) throw new FormatError(`${source}: stored entry '${name}' has compressed size ${fields.compressed} but size ${fields.size}`);
    if (byName.has(name)) throw new FormatError(`${source}: entry '${name}' appears twice`);
    cursor.need(fields.local, LOCAL_HEADER_BYTES, `the local header of '${name}'`);
    if (cursor.u32(fields.local) !== LOCAL_HEADER) throw new FormatError(`${source}: entry '${name}' has no local header at byte ${fields.local}`);
    const begin = fields.local + LOCAL_HEADER_BYTES + cursor.u16(fields.local + 26) + cursor.u16(fields.local + 28);
    const end = begin + fields.size;
    if (end > directory.offset) {
      throw new FormatError(`${source}: entry '${name}' (bytes ${begin}..${end}) runs into the central directory at byte ${directory.offset}; the archive is truncated or corrupt`);
    }
    const entry = { name, begin, end, crc32: cursor.u32(at + 16) };
    entries.push(entry);
    byName.set(name, entry);
    at = next;
  }
  return {
    source,
    entries,
    has: (name) => byName.has(name),
    get: (name) => byName.get(name),
    read(name) {
      const entry = byName.get(name);
      if (!entry) throw new FormatError(`${source}: the archive has no entry '${name}'`);
      const data = bytes.subarray(entry.begin, entry.end);
      const actual = crc32(data);
      if (actual !== entry.crc32) {
        throw new FormatError(`${source}: entry '${name}' fails its CRC-32 (stored ${entry.crc32.toString(16).padStart(8, '0')}, computed ${actual.toString(16).padStart(8, '0')}); the archive is corrupt`);
      }
      return data;
    },
  };
}
