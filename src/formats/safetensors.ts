/**
 * safetensors (huggingface/safetensors): an 8-byte little-endian header length N, N bytes of
 * JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}},
 * then the data, whose byte ranges (relative to the end of the header) must cover it exactly:
 * no gaps, no overlaps. The reader validates all of that before any tensor is decoded.
 */
import { FormatError } from './errors.js';
import { toFloat32, type FloatFormat } from './float-formats.js';
import type { TensorInfo, TensorSource } from './tensor-source.js';

/** Larger headers are refused, as the reference implementation does. */
export const MAX_HEADER_BYTES = 100_000_000;

/** Bytes per element of every dtype the format defines. */
const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, I64: 8, U64: 8, F64: 8,
};

const FLOAT_DTYPES: Record<string, FloatFormat> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

export interface SafetensorsEntry extends TensorInfo {
  /** Byte range within the file (absolute, header included). */
  begin: number;
  end: number;
}

/** Every tensor in data order; readFloat32 reads F32, F16 and BF16 tensors. */
export interface SafetensorsFile extends TensorSource {
  readonly metadata: Record<string, string> | null;
  readonly tensors: SafetensorsEntry[];
  get(name: string): SafetensorsEntry | undefined;
}

export interface SafetensorsTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

function describeJson(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function parseEntry(source: string, name: string, raw: unknown, dataStart: number): SafetensorsEntry {
  const fail = (problem: string): never => {
    throw new FormatError(`${source}: tensor '${name}' ${problem}`);
  };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return fail(`has header entry ${describeJson(raw)}, expected {dtype, shape, data_offsets}`);
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
    return fail(`has unknown dtype ${describeJson(dtype)} (known: ${Object.keys(DTYPE_BYTES).join(', ')})`);
  }
  if (!Array.isArray(shape) || shape.some((size) => !Number.isSafeInteger(size) || size < 0)) return fail(`has shape ${describeJson(shape)}, expected a list of sizes`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || offsets.some((offset) => !Number.isSafeInteger(offset) || offset < 0) || offsets[0] > offsets[1]) {
    return fail(`has data_offsets ${describeJson(offsets)}, expected [begin, end] with 0 <= begin <= end`);
  }
  let elements = 1;
  for (const size of shape as number[]) {
    elements *= size;
    if (!Number.isSafeInteger(elements)) fail(`has shape ${describeJson(shape)}, too many elements`);
  }
  const byteLength = elements * DTYPE_BYTES[dtype];
  if (offsets[1] - offsets[0] !== byteLength) {
    fail(`is ${dtype} of shape [${(shape as number[]).join(', ')}], which is ${byteLength} bytes, but data_offsets [${offsets.join(', ')}] hold ${offsets[1] - offsets[0]}`);
  }
  return { name, dtype, shape: [...(shape as number[])], begin: dataStart + offsets[0], end: dataStart + offsets[1] };
}

function parseMetadata(source: string, raw: unknown): Record<string, string> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || Object.values(raw).some((value) => typeof value !== 'string')) {
    throw new FormatError(`${source}: "__metadata__" must be an object of strings, got ${describeJson(raw)}`);
  }
  return { ...(raw as Record<string, string>) };
}

/** Parses and validates a safetensors file; `source` names it in every error. */
export function readSafetensors(bytes: Uint8Array, source: string): SafetensorsFile {
  if (bytes.length < 8) throw new FormatError(`${source}: ${bytes.length} bytes is too short for a safetensors file (an 8-byte header length comes first)`);
  const declared = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (declared > BigInt(MAX_HEADER_BYTES)) throw new FormatError(`${source}: the header claims ${declared} bytes; headers over ${MAX_HEADER_BYTES} bytes are refused`);
  const headerLength = Number(declared);
  if (8 + headerLength > bytes.length) {
    throw new FormatError(`${source}: the ${headerLength}-byte header runs past the end of the ${bytes.length}-byte file; it is truncated or not safetensors`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch (error) {
    throw new FormatError(`${source}: the header is not valid UTF-8 JSON (${(error as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new FormatError(`${source}: the header is ${describeJson(header)}, expected a JSON object`);
  const dataStart = 8 + headerLength;
  let metadata: Record<string, string> | null = null;
  const entries: SafetensorsEntry[] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') metadata = parseMetadata(source, raw);
    else entries.push(parseEntry(source, name, raw, dataStart));
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = dataStart;
  for (const entry of entries) {
    if (entry.begin < covered) {
      throw new FormatError(`${source}: tensor '${entry.name}' (bytes ${entry.begin - dataStart}..${entry.end - dataStart} of the data) overlaps the tensor before it`);
    }
    if (entry.begin > covered) {
      throw new FormatError(`${source}: data bytes ${covered - dataStart}..${entry.begin - dataStart} belong to no tensor (a gap before '${entry.name}')`);
    }
    covered = entry.end;
  }
  if (covered !== bytes.length) {
    throw new FormatError(covered > bytes.length
      ? `${source}: the tensors need ${covered - dataStart} data bytes but the file has ${bytes.length - dataStart}; it is truncated`
      : `${source}: the last ${bytes.length - covered} bytes of the file belong to no tensor`);
  }
  const byName = new Map(entries.map((entry) => [entry.name, entry]));
  return {
    source,
    metadata,
    tensors: entries,
    get: (name) => byName.get(name),
    readFloat32(name) {
      const entry = byName.get(name);
      if (!entry) throw new FormatError(`${source}: no tensor named '${name}'`);
      const format = FLOAT_DTYPES[entry.dtype];
      if (!format) throw new FormatError(`${source}: tensor '${name}' is ${entry.dtype}; only F32, F16 and BF16 tensors are read as weights`);
      return toFloat32(bytes.subarray(entry.begin, entry.end), format, (entry.end - entry.begin) / DTYPE_BYTES[entry.dtype]);
    },
  };
}

/**
 * A safetensors file of float32 tensors in the given order, with optional metadata; the header
 * is padded with spaces to a multiple of 8 bytes, as the reference writer does, so the data is aligned.
 */
export function writeSafetensors(tensors: readonly SafetensorsTensor[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const tensor of tensors) {
    const elements = tensor.shape.reduce((count, size) => count * size, 1);
    if (elements !== tensor.data.length) throw new Error(`safetensors: tensor '${tensor.name}' has shape [${tensor.shape.join(', ')}] but ${tensor.data.length} values`);
    if (tensor.name in header) throw new Error(`safetensors: tensor '${tensor.name}' is given twice`);
    header[tensor.name] = { dtype: 'F32', shape: tensor.shape, data_offsets: [offset, offset + tensor.data.byteLength] };
    offset += tensor.data.byteLength;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const withSpaces = new Uint8Array(padded).fill(0x20);
    withSpaces.set(json);
    json = withSpaces;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const tensor of tensors) {
    out.set(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength), at);
    at += tensor.data.byteLength;
  }
  return out;
}
