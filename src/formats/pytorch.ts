/**
 * A `pytorch_model.bin` as torch.save (1.6 and later) writes it: a zip archive holding
 * `<root>/data.pkl`, a pickle of the state dict whose tensors name their storages by key, and
 * one `<root>/data/<key>` entry of raw little-endian elements per storage. The pickle goes
 * through the restricted reader in pickle.ts, so nothing in the file is ever executed.
 */
import { FormatError } from './errors.js';
import { toFloat32, type FloatFormat } from './float-formats.js';
import { PyDict, readPickle, RESAVE_HINT, TensorRef } from './pickle.js';
import type { TensorInfo, TensorSource } from './tensor-source.js';
import { readZip, type ZipArchive } from './zip.js';

const ELEMENT_BYTES: Record<string, number> = {
  FloatStorage: 4, HalfStorage: 2, BFloat16Storage: 2, DoubleStorage: 8, LongStorage: 8, IntStorage: 4, ShortStorage: 2, CharStorage: 1, ByteStorage: 1, BoolStorage: 1,
};

const FLOAT_STORAGES: Record<string, FloatFormat | 'float64'> = {
  FloatStorage: 'float32', HalfStorage: 'float16', BFloat16Storage: 'bfloat16', DoubleStorage: 'float64',
};

const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];
const PICKLE_PROTO = 0x80;

export interface PytorchTensor extends TensorInfo {
  /** The storage class, e.g. 'FloatStorage'. */
  dtype: string;
  stride: number[];
  offset: number;
  /** The archive entry holding the storage. */
  entry: string;
}

function startsWith(bytes: Uint8Array, magic: readonly number[]): boolean {
  return magic.every((byte, i) => bytes[i] === byte);
}

/** The archive's root folder: torch names it after the file, so it is found by its data.pkl. */
function rootFolder(archive: ZipArchive, source: string): string {
  const roots = archive.entries.map((entry) => /^([^/]+)\/data\.pkl$/.exec(entry.name)?.[1]).filter((root): root is string => root !== undefined);
  if (roots.length !== 1) {
    throw new FormatError(`${source}: a PyTorch archive holds one <folder>/data.pkl, this one holds ${roots.length}; ${RESAVE_HINT}`);
  }
  return roots[0];
}

function checkTensor(name: string, ref: TensorRef, archive: ZipArchive, root: string, source: string): PytorchTensor {
  const { storage, shape, stride, offset } = ref;
  const elementBytes = ELEMENT_BYTES[storage.storageType];
  const entry = `${root}/data/${storage.key}`;
  const stored = archive.get(entry);
  if (!stored) throw new FormatError(`${source}: tensor '${name}' needs storage '${storage.key}', but the archive has no entry '${entry}'`);
  if (stored.end - stored.begin !== storage.numel * elementBytes) {
    throw new FormatError(`${source}: storage '${storage.key}' is ${storage.numel} elements of ${storage.storageType} (${storage.numel * elementBytes} bytes) but entry '${entry}' has ${stored.end - stored.begin} bytes`);
  }
  if (shape.length !== stride.length) throw new FormatError(`${source}: tensor '${name}' has ${shape.length} sizes but ${stride.length} strides`);
  let elements = 1;
  let last = offset;
  for (let axis = 0; axis < shape.length; axis++) {
    elements *= shape[axis];
    last += Math.max(0, shape[axis] - 1) * stride[axis];
    if (!Number.isSafeInteger(elements) || !Number.isSafeInteger(last)) throw new FormatError(`${source}: tensor '${name}' has an impossible size [${shape.join(', ')}]`);
  }
  if (elements > 0 && last >= storage.numel) {
    throw new FormatError(`${source}: tensor '${name}' of size [${shape.join(', ')}], stride [${stride.join(', ')}] at offset ${offset} reaches element ${last} of a ${storage.numel}-element storage`);
  }
  return { name, dtype: storage.storageType, shape, stride, offset, entry };
}

/** Element indices of a strided tensor in row-major order. */
function stridedIndices(shape: readonly number[], stride: readonly number[], offset: number): Float64Array | null {
  const count = shape.reduce((product, size) => product * size, 1);
  let contiguous = true;
  for (let axis = shape.length - 1, expected = 1; axis >= 0; expected *= shape[axis], axis--) {
    if (shape[axis] !== 1 && stride[axis] !== expected) contiguous = false;
  }
  if (contiguous) return null;
  const indices = new Float64Array(count);
  const position = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < count; i++) {
    let index = offset;
    for (let axis = 0; axis < shape.length; axis++) index += position[axis] * stride[axis];
    indices[i] = index;
    for (let axis = shape.length - 1; axis >= 0; axis--) {
      if (++position[axis] < shape[axis]) break;
      position[axis] = 0;
    }
  }
  return indices;
}

function storageToFloat32(bytes: Uint8Array, format: FloatFormat | 'float64', count: number): Float32Array {
  if (format !== 'float64') return toFloat32(bytes, format, count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, count * 8);
  return Float32Array.from({ length: count }, (_, i) => view.getFloat64(8 * i, true));
}

/** Reads a PyTorch zip checkpoint holding a state dict of tensors; `source` names the file in errors. */
export function readPytorchStateDict(bytes: Uint8Array, source: string): TensorSource {
  if (!startsWith(bytes, ZIP_MAGIC)) {
    const legacy = bytes[0] === PICKLE_PROTO ? ' it looks like the legacy format of torch.save before 1.6 (or _use_new_zipfile_serialization=False);' : '';
    throw new FormatError(`${source}: not a PyTorch zip archive;${legacy} ${RESAVE_HINT}`);
  }
  const archive = readZip(bytes, source);
  const root = rootFolder(archive, source);
  const byteOrder = `${root}/byteorder`;
  if (archive.has(byteOrder) && new TextDecoder().decode(archive.read(byteOrder)) !== 'little') {
    throw new FormatError(`${source}: the tensors are stored big-endian; ${RESAVE_HINT}`);
  }
  const top = readPickle(archive.read(`${root}/data.pkl`), `${source}: ${root}/data.pkl`);
  if (!(top instanceof PyDict)) throw new FormatError(`${source}: the pickle holds a ${top === null ? 'None' : typeof top === 'object' ? top.constructor.name : typeof top}, not a state dict; ${RESAVE_HINT}`);
  const tensors: PytorchTensor[] = [];
  for (const [name, value] of top.entries) {
    if (typeof name !== 'string' || !(value instanceof TensorRef)) {
      throw new FormatError(`${source}: state dict entry ${JSON.stringify(name)} is not a tensor; ${RESAVE_HINT}`);
    }
    tensors.push(checkTensor(name, value, archive, root, source));
  }
  const byName = new Map(tensors.map((tensor) => [tensor.name, tensor]));
  return {
    source,
    tensors,
    get: (name) => byName.get(name),
    readFloat32(name) {
      const tensor = byName.get(name);
      if (!tensor) throw new FormatError(`${source}: no tensor named '${name}'`);
      const format = FLOAT_STORAGES[tensor.dtype];
      if (!format) throw new FormatError(`${source}: tensor '${name}' is a ${tensor.dtype}; only float, half, bfloat16 and double tensors are read as weights`);
      const storage = archive.read(tensor.entry);
      const elementBytes = ELEMENT_BYTES[tensor.dtype];
      const count = tensor.shape.reduce((product, size) => product * size, 1);
      if (count > storage.length / elementBytes) {
        throw new FormatError(`${source}: tensor '${name}' has ${count} elements, more than its ${storage.length / elementBytes}-element storage (a broadcast view); re-save it with .contiguous()`);
      }
      const indices = stridedIndices(tensor.shape, tensor.stride, tensor.offset);
      if (indices === null) return storageToFloat32(storage.subarray(tensor.offset * elementBytes), format, count);
      const all = storageToFloat32(storage, format, storage.length / elementBytes);
      return Float32Array.from(indices, (index) => all[index]);
    },
  };
}
