/**
 * The LevelDB table (SSTable) format that TensorFlow uses for a checkpoint's `.index` file:
 * data blocks of prefix-compressed sorted keys with restart points, an index block mapping each
 * data block's upper-bound key to its handle, an empty metaindex block and a 48-byte footer.
 * Every block is followed by a 1-byte compression type and the masked CRC32C of block + type.
 */
import { crc32cExtend, maskCrc32c } from './crc32c.js';
import { pushVarint, readVarint } from './protobuf.js';

export const TABLE_MAGIC = 0xdb4775248b80fb57n;
export const FOOTER_SIZE = 48;
const BLOCK_TRAILER_SIZE = 5;
/** Two block handles of at most two 10-byte varints each, zero-padded, then the magic number. */
const FOOTER_HANDLES_SIZE = 40;
const NO_COMPRESSION = 0;
const COMPRESSION_NAMES: Record<number, string> = { 1: 'Snappy', 2: 'Zstd' };

/** LevelDB's defaults: 4 KiB of entries per data block and a full key every 16 entries. */
export const DEFAULT_BLOCK_SIZE = 4096;
export const DEFAULT_RESTART_INTERVAL = 16;
/** TensorFlow's table_options.h block size, for indexes that match a TensorFlow-written one byte for byte. */
export const TENSORFLOW_BLOCK_SIZE = 262144;

export interface TableEntry {
  key: Uint8Array;
  value: Uint8Array;
}

/** A table that cannot be read; `fileName` is added by the caller's error. */
export class TableFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TableFormatError';
  }
}

interface BlockHandle {
  offset: number;
  size: number;
}

function readHandle(bytes: Uint8Array, offset: number, end: number): { handle: BlockHandle; next: number } {
  const blockOffset = readVarint(bytes, offset, end);
  const blockSize = readVarint(bytes, blockOffset.next, end);
  return { handle: { offset: blockOffset.value, size: blockSize.value }, next: blockSize.next };
}

function pushHandle(out: number[], handle: BlockHandle): void {
  pushVarint(out, handle.offset);
  pushVarint(out, handle.size);
}

/** The contents of one block after checking that it lies inside the file and its trailer matches. */
function readBlock(file: Uint8Array, handle: BlockHandle, what: string): Uint8Array {
  const end = handle.offset + handle.size + BLOCK_TRAILER_SIZE;
  if (handle.offset < 0 || handle.size < 0 || end > file.length) {
    throw new TableFormatError(
      `${what} at bytes ${handle.offset}..${handle.offset + handle.size} (plus its 5-byte trailer) lies outside the ${file.length}-byte file; the file is truncated or corrupt`,
    );
  }
  const contents = file.subarray(handle.offset, handle.offset + handle.size);
  const type = file[handle.offset + handle.size];
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const stored = view.getUint32(handle.offset + handle.size + 1, true);
  const actual = maskCrc32c(crc32cExtend(crc32cExtend(0, contents), file.subarray(handle.offset + handle.size, handle.offset + handle.size + 1)));
  if (stored !== actual) {
    throw new TableFormatError(`${what} at byte ${handle.offset} fails its checksum (stored ${hex(stored)}, computed ${hex(actual)}); the file is corrupt`);
  }
  if (type !== NO_COMPRESSION) {
    const name = COMPRESSION_NAMES[type] ?? `unknown type ${type}`;
    throw new TableFormatError(`${what} at byte ${handle.offset} is compressed (${name}); only uncompressed blocks are supported, as TensorFlow writes them`);
  }
  return contents;
}

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}

/**
 * Prefix compression lets each entry repeat its whole previous key plus a byte, so n entries can
 * spell n^2/2 key bytes. Real indexes spell a few times their size; beyond this many key bytes
 * per file byte the table is refused rather than expanded.
 */
const KEY_BYTES_PER_FILE_BYTE = 64;

/** Decodes every entry of one block, checking its restart array and key prefixes; `keyBudget.bytes` is what keys may still take. */
function decodeBlock(block: Uint8Array, what: string, keyBudget: { bytes: number }): TableEntry[] {
  if (block.length < 4) throw new TableFormatError(`${what} is ${block.length} bytes, too short to hold its restart count`);
  const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
  const restartCount = view.getUint32(block.length - 4, true);
  const restartsStart = block.length - 4 - 4 * restartCount;
  if (restartCount === 0 || restartsStart < 0) {
    throw new TableFormatError(`${what} declares ${restartCount} restart points, impossible for a ${block.length}-byte block`);
  }
  const restarts = new Set<number>();
  for (let i = 0; i < restartCount; i++) {
    const restart = view.getUint32(restartsStart + 4 * i, true);
    if (restart > restartsStart) throw new TableFormatError(`${what} has restart point ${restart} beyond its entries (${restartsStart} bytes)`);
    restarts.add(restart);
  }
  const entries: TableEntry[] = [];
  let previousKey = new Uint8Array(0);
  let offset = 0;
  while (offset < restartsStart) {
    const entryStart = offset;
    const shared = readVarint(block, offset, restartsStart);
    const nonShared = readVarint(block, shared.next, restartsStart);
    const valueLength = readVarint(block, nonShared.next, restartsStart);
    offset = valueLength.next;
    if (shared.value > previousKey.length) {
      throw new TableFormatError(`${what}: entry at byte ${entryStart} shares ${shared.value} bytes with a ${previousKey.length}-byte previous key`);
    }
    if (restarts.has(entryStart) && shared.value !== 0) {
      throw new TableFormatError(`${what}: entry at restart point ${entryStart} shares a key prefix`);
    }
    if (offset + nonShared.value + valueLength.value > restartsStart) {
      throw new TableFormatError(`${what}: entry at byte ${entryStart} runs past the end of the block`);
    }
    keyBudget.bytes -= shared.value + nonShared.value;
    if (keyBudget.bytes < 0) {
      throw new TableFormatError(`${what}: its keys expand to more than ${KEY_BYTES_PER_FILE_BYTE} bytes per byte of the file; the key prefixes are corrupt`);
    }
    const key = new Uint8Array(shared.value + nonShared.value);
    key.set(previousKey.subarray(0, shared.value));
    key.set(block.subarray(offset, offset + nonShared.value), shared.value);
    offset += nonShared.value;
    const value = block.subarray(offset, offset + valueLength.value);
    offset += valueLength.value;
    entries.push({ key, value });
    previousKey = key;
  }
  return entries;
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** Reads every key/value of a table held in memory, verifying each block checksum and the key order. */
export function readTable(file: Uint8Array): TableEntry[] {
  if (file.length < FOOTER_SIZE) {
    throw new TableFormatError(`it is ${file.length} bytes, shorter than the ${FOOTER_SIZE}-byte table footer; the file is truncated`);
  }
  const footerStart = file.length - FOOTER_SIZE;
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const magic = view.getBigUint64(footerStart + FOOTER_HANDLES_SIZE, true);
  if (magic !== TABLE_MAGIC) {
    throw new TableFormatError(
      `its last 8 bytes are 0x${magic.toString(16).padStart(16, '0')}, not the table magic 0x${TABLE_MAGIC.toString(16)}; it is not a TensorFlow checkpoint index, or it is truncated`,
    );
  }
  const handlesEnd = footerStart + FOOTER_HANDLES_SIZE;
  const metaindex = readHandle(file, footerStart, handlesEnd);
  const index = readHandle(file, metaindex.next, handlesEnd);
  // The metaindex only names filter blocks, which TensorFlow never writes; still verify its checksum.
  readBlock(file, metaindex.handle, 'metaindex block');
  const keyBudget = { bytes: KEY_BYTES_PER_FILE_BYTE * file.length };
  const indexEntries = decodeBlock(readBlock(file, index.handle, 'index block'), 'index block', keyBudget);
  const entries: TableEntry[] = [];
  indexEntries.forEach((indexEntry, blockNumber) => {
    const { handle } = readHandle(indexEntry.value, 0, indexEntry.value.length);
    const what = `data block ${blockNumber}`;
    for (const entry of decodeBlock(readBlock(file, handle, what), what, keyBudget)) {
      const previous = entries[entries.length - 1];
      if (previous && compareBytes(previous.key, entry.key) >= 0) {
        throw new TableFormatError(`${what}: keys are not in strictly increasing order`);
      }
      if (compareBytes(entry.key, indexEntry.key) > 0) {
        throw new TableFormatError(`${what}: a key lies beyond the block's index key`);
      }
      entries.push(entry);
    }
  });
  return entries;
}

/** LevelDB's BlockBuilder: prefix-compressed entries with a full key every `restartInterval` entries. */
class BlockBuilder {
  private bytes: number[] = [];
  private restarts: number[] = [0];
  private sinceRestart = 0;
  private lastKey: Uint8Array = new Uint8Array(0);
  entryCount = 0;

  constructor(private readonly restartInterval: number) {}

  add(key: Uint8Array, value: Uint8Array): void {
    let shared = 0;
    if (this.sinceRestart < this.restartInterval) {
      const limit = Math.min(key.length, this.lastKey.length);
      while (shared < limit && key[shared] === this.lastKey[shared]) shared++;
    } else {
      this.restarts.push(this.bytes.length);
      this.sinceRestart = 0;
    }
    pushVarint(this.bytes, shared);
    pushVarint(this.bytes, key.length - shared);
    pushVarint(this.bytes, value.length);
    for (let i = shared; i < key.length; i++) this.bytes.push(key[i]);
    for (const byte of value) this.bytes.push(byte);
    this.lastKey = key;
    this.sinceRestart++;
    this.entryCount++;
  }

  /** Size of the finished block if it were finished now, as LevelDB estimates it. */
  sizeEstimate(): number {
    return this.bytes.length + 4 * this.restarts.length + 4;
  }

  finish(): Uint8Array {
    const out = this.bytes;
    for (const restart of this.restarts) out.push(restart & 0xff, (restart >>> 8) & 0xff, (restart >>> 16) & 0xff, restart >>> 24);
    const count = this.restarts.length;
    out.push(count & 0xff, (count >>> 8) & 0xff, (count >>> 16) & 0xff, count >>> 24);
    return Uint8Array.from(out);
  }
}

/**
 * The shortest key k with start <= k < limit, as LevelDB's bytewise comparator computes it:
 * bump the first differing byte of `start` when that stays below `limit`, else keep `start`.
 */
export function shortestSeparator(start: Uint8Array, limit: Uint8Array): Uint8Array {
  const common = Math.min(start.length, limit.length);
  let diff = 0;
  while (diff < common && start[diff] === limit[diff]) diff++;
  if (diff >= common) return start;
  const byte = start[diff];
  if (byte < 0xff && byte + 1 < limit[diff]) {
    const separator = start.slice(0, diff + 1);
    separator[diff]++;
    return separator;
  }
  return start;
}

/** The shortest key >= `key`: bump its first byte that is not 0xff and drop the rest. */
export function shortSuccessor(key: Uint8Array): Uint8Array {
  for (let i = 0; i < key.length; i++) {
    if (key[i] !== 0xff) {
      const successor = key.slice(0, i + 1);
      successor[i]++;
      return successor;
    }
  }
  return key;
}

export interface TableOptions {
  blockSize?: number;
  restartInterval?: number;
}

/** Writes sorted, unique keys into a complete table file image, laid out exactly as LevelDB's TableBuilder does. */
export function buildTable(entries: Iterable<TableEntry>, options: TableOptions = {}): Uint8Array {
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  const restartInterval = options.restartInterval ?? DEFAULT_RESTART_INTERVAL;
  const chunks: Uint8Array[] = [];
  let fileOffset = 0;
  const writeBlock = (contents: Uint8Array): BlockHandle => {
    const handle = { offset: fileOffset, size: contents.length };
    const trailer = new Uint8Array(BLOCK_TRAILER_SIZE);
    trailer[0] = NO_COMPRESSION;
    const crc = maskCrc32c(crc32cExtend(crc32cExtend(0, contents), trailer.subarray(0, 1)));
    new DataView(trailer.buffer).setUint32(1, crc, true);
    chunks.push(contents, trailer);
    fileOffset += contents.length + BLOCK_TRAILER_SIZE;
    return handle;
  };

  // The index block uses a restart point at every entry, as LevelDB's does.
  const index = new BlockBuilder(1);
  let data = new BlockBuilder(restartInterval);
  let lastKey: Uint8Array | null = null;
  let pendingHandle: BlockHandle | null = null;
  const addIndexEntry = (separator: Uint8Array, handle: BlockHandle): void => {
    const encoded: number[] = [];
    pushHandle(encoded, handle);
    index.add(separator, Uint8Array.from(encoded));
  };

  for (const { key, value } of entries) {
    if (lastKey !== null && compareBytes(lastKey, key) >= 0) {
      throw new TableFormatError(`keys must be added in strictly increasing byte order ('${new TextDecoder().decode(key)}' follows '${new TextDecoder().decode(lastKey)}')`);
    }
    if (pendingHandle !== null && lastKey !== null) {
      addIndexEntry(shortestSeparator(lastKey, key), pendingHandle);
      pendingHandle = null;
    }
    data.add(key, value);
    lastKey = key;
    if (data.sizeEstimate() >= blockSize) {
      pendingHandle = writeBlock(data.finish());
      data = new BlockBuilder(restartInterval);
    }
  }
  if (data.entryCount > 0) pendingHandle = writeBlock(data.finish());
  if (pendingHandle !== null && lastKey !== null) addIndexEntry(shortSuccessor(lastKey), pendingHandle);

  const metaindexHandle = writeBlock(new BlockBuilder(restartInterval).finish());
  const indexHandle = writeBlock(index.finish());
  const footer = new Uint8Array(FOOTER_SIZE);
  const handles: number[] = [];
  pushHandle(handles, metaindexHandle);
  pushHandle(handles, indexHandle);
  footer.set(handles);
  new DataView(footer.buffer).setBigUint64(FOOTER_HANDLES_SIZE, TABLE_MAGIC, true);
  chunks.push(footer);
  fileOffset += FOOTER_SIZE;

  const file = new Uint8Array(fileOffset);
  let position = 0;
  for (const chunk of chunks) {
    file.set(chunk, position);
    position += chunk.length;
  }
  return file;
}
