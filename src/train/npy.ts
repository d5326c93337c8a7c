/**
 * NumPy's .npy format (version 1.0) for float32 arrays, so `np.load` reads what `encode` writes:
 * the magic `\x93NUMPY`, the version bytes 1 0, a little-endian uint16 header length, then a
 * Python dict literal `{'descr': '<f4', 'fortran_order': False, 'shape': (n, h), }` padded with
 * spaces and ended by '\n' so that the data starts at a multiple of 64 bytes, then the values in
 * C order, little-endian.
 */
const MAGIC = [0x93, ...Array.from('NUMPY', (c) => c.charCodeAt(0))];
/** Magic, two version bytes and the uint16 header length. */
const PREAMBLE_BYTES = MAGIC.length + 2 + 2;
const ALIGNMENT = 64;

export interface NpyArray {
  shape: number[];
  data: Float32Array;
}

/** Python's repr of a shape tuple: `()`, `(3,)`, `(3, 4)`. */
function shapeTuple(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

/** The bytes of a .npy file holding `data` as a float32 array of `shape`. */
export function encodeNpyFloat32(data: Float32Array, shape: readonly number[]): Uint8Array {
  shape.forEach((dim) => {
    if (!Number.isSafeInteger(dim) || dim < 0) throw new RangeError(`shape [${shape.join(', ')}] has an invalid dimension ${dim}`);
  });
  const size = shape.reduce((product, dim) => product * dim, 1);
  if (size !== data.length) throw new RangeError(`shape [${shape.join(', ')}] holds ${size} values but ${data.length} were given`);
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeTuple(shape)}, }`;
  const unpadded = PREAMBLE_BYTES + dict.length + 1;
  const headerLength = dict.length + 1 + ((ALIGNMENT - (unpadded % ALIGNMENT)) % ALIGNMENT);
  if (headerLength > 0xffff) throw new RangeError(`a shape of ${shape.length} dimensions does not fit a version 1.0 .npy header`);
  const bytes = new Uint8Array(PREAMBLE_BYTES + headerLength + data.length * 4);
  const view = new DataView(bytes.buffer);
  bytes.set(MAGIC, 0);
  bytes[MAGIC.length] = 1;
  bytes[MAGIC.length + 1] = 0;
  view.setUint16(MAGIC.length + 2, headerLength, true);
  const header = `${dict.padEnd(headerLength - 1, ' ')}\n`;
  for (let i = 0; i < header.length; i++) bytes[PREAMBLE_BYTES + i] = header.charCodeAt(i);
  const dataStart = PREAMBLE_BYTES + headerLength;
  for (let i = 0; i < data.length; i++) view.setFloat32(dataStart + 4 * i, data[i] as number, true);
  return bytes;
}

/** A problem with a .npy file; the message names the file. */
export class NpyError extends Error {
  override readonly name = 'NpyError';
}

/** The body of a Python tuple of non-negative integers: empty, `3,` or `3, 4` with an optional trailing comma. */
const SHAPE_TUPLE = /^(?:|\d+\s*,|\d+(?:\s*,\s*\d+)+\s*,?)$/;

/** A header's text: Latin-1 for versions 1 and 2, UTF-8 for version 3 (null when invalid). */
function decodeHeader(bytes: Uint8Array, utf8: boolean): string | null {
  if (utf8) {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      return null;
    }
  }
  let text = '';
  for (let start = 0; start < bytes.length; start += 4096) text += String.fromCharCode(...bytes.subarray(start, start + 4096));
  return text;
}

function shorten(text: string): string {
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}

/**
 * Reads the bytes of a .npy file (version 1.x, 2.x or 3.x) holding a little-endian float32 array in C order,
 * the kind `encode` writes; any other dtype or layout is an NpyError.
 */
export function readNpyFloat32(bytes: Uint8Array, name = '.npy data'): NpyArray {
  const fail = (problem: string): never => {
    throw new NpyError(`${name}: ${problem}`);
  };
  if (bytes.length < PREAMBLE_BYTES || MAGIC.some((byte, i) => bytes[i] !== byte)) fail('not a .npy file (no \\x93NUMPY magic)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[MAGIC.length] as number;
  if (major < 1 || major > 3) fail(`unsupported .npy version ${major}.${bytes[MAGIC.length + 1]}`);
  const lengthBytes = major === 1 ? 2 : 4;
  const headerStart = MAGIC.length + 2 + lengthBytes;
  if (bytes.length < headerStart) fail('truncated header');
  const headerLength = major === 1 ? view.getUint16(MAGIC.length + 2, true) : view.getUint32(MAGIC.length + 2, true);
  const dataStart = headerStart + headerLength;
  if (bytes.length < dataStart) fail(`truncated header (${headerLength} bytes announced)`);
  const header = decodeHeader(bytes.subarray(headerStart, dataStart), major === 3) ?? fail('the header is not valid UTF-8 text');
  if (!header.endsWith('\n')) fail('the header does not end with a newline');
  const field = (key: string, pattern: string): string => {
    const match = new RegExp(`'${key}'\\s*:\\s*(${pattern})`).exec(header);
    return match ? (match[1] as string) : fail(`the header lacks a readable '${key}': ${shorten(header.trim())}`);
  };
  const descr = field('descr', "'[^']*'").slice(1, -1);
  if (descr !== '<f4') fail(`dtype ${descr} is not little-endian float32 ('<f4')`);
  if (field('fortran_order', 'True|False') !== 'False') fail('Fortran-ordered arrays are not supported');
  const tuple = field('shape', '\\([^)]*\\)').slice(1, -1).trim();
  if (!SHAPE_TUPLE.test(tuple)) fail(`invalid shape (${shorten(tuple)})`);
  const shape = tuple === '' ? [] : tuple.replace(/,$/, '').split(',').map((dim) => Number(dim.trim()));
  if (shape.some((dim) => !Number.isSafeInteger(dim))) fail(`invalid shape (${shorten(tuple)})`);
  const size = shape.reduce((product, dim) => product * dim, 1);
  if (bytes.length !== dataStart + size * 4) {
    fail(`shape (${tuple}) needs ${size * 4} data bytes but the file has ${bytes.length - dataStart}`);
  }
  const data = new Float32Array(size);
  for (let i = 0; i < size; i++) data[i] = view.getFloat32(dataStart + 4 * i, true);
  return { shape, data };
}
