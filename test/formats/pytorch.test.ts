import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hfNameOfTf } from '../../src/formats/hf-names.js';
import { readPickle } from '../../src/formats/pickle.js';
import { readPytorchStateDict } from '../../src/formats/pytorch.js';
import { crc32, readZip } from '../../src/formats/zip.js';
import { INTEROP, interopReference } from '../support/interop-fixture.js';

const reference = interopReference();

function expectError(run: () => unknown, mention: string, pattern: RegExp): void {
  try {
    run();
    assert.unreachable('accepted');
  } catch (error) {
    const message = (error as Error).message;
    assert.ok(message.startsWith(mention), `'${mention}' does not start: ${message}`);
    assert.match(message, pattern);
  }
}

/** The reference tensor under its HF layout: linear weights [out, in]. */
function hfLayout(tfName: string): Float32Array {
  const { shape, data } = reference.weights.get(tfName)!;
  if (!hfNameOfTf(tfName).transpose) return data;
  const [rows, cols] = shape;
  return Float32Array.from({ length: data.length }, (_, i) => data[(i % rows) * cols + Math.floor(i / rows)]);
}

test('pytorch_model.bin by torch.save with BertForMaskedLM keys: every tensor, tied and int64 ones included', () => {
  const path = INTEROP('hf-mlm', 'pytorch_model.bin');
  const state = readPytorchStateDict(readFileSync(path), path);
  for (const tfName of reference.weights.keys()) {
    const key = hfNameOfTf(tfName).name;
    assert.equal([...state.readFloat32(key)], [...hfLayout(tfName)], key);
  }
  assert.equal([...state.readFloat32('cls.predictions.decoder.weight')], [...state.readFloat32('bert.embeddings.word_embeddings.weight')]);
  assert.equal(state.get('bert.embeddings.position_ids'), { name: 'bert.embeddings.position_ids', dtype: 'LongStorage', shape: [1, 32], stride: [32, 1], offset: 0, entry: 'pytorch_model/data/44' });
  expectError(() => state.readFloat32('bert.embeddings.position_ids'), path, /is a LongStorage; only float/);
});

test('pytorch_model.bin with BertModel keys, gamma/beta and transposed (strided) views', () => {
  const path = INTEROP('hf-base', 'pytorch_model.bin');
  const state = readPytorchStateDict(readFileSync(path), path);
  const query = state.get('encoder.layer.1.attention.self.query.weight') as unknown as { stride: number[] };
  assert.equal(query.stride, [1, 16], 'saved as a transposed view');
  assert.equal([...state.readFloat32('encoder.layer.1.attention.self.query.weight')], [...hfLayout('bert/encoder/layer_1/attention/self/query/kernel')]);
  assert.equal([...state.readFloat32('encoder.layer.0.intermediate.dense.weight')], [...hfLayout('bert/encoder/layer_0/intermediate/dense/kernel')]);
  assert.equal([...state.readFloat32('embeddings.LayerNorm.gamma')], [...hfLayout('bert/embeddings/LayerNorm/gamma')]);
  assert.ok(state.tensors.every((tensor) => !tensor.name.startsWith('cls.')));
});

test('a pickle that calls os.system is refused before anything is called, with the re-save advice', () => {
  const path = INTEROP('evil-pytorch_model.bin');
  expectError(() => readPytorchStateDict(readFileSync(path), path), `${path}: evil/data.pkl: the pickle refers to 'posix.system'`, /re-save the weights with a current torch .* or as model\.safetensors/);
});

test('the legacy (pre-1.6) torch.save format is refused with the re-save advice', () => {
  const path = INTEROP('legacy-pytorch_model.bin');
  expectError(() => readPytorchStateDict(readFileSync(path), path), `${path}: not a PyTorch zip archive; it looks like the legacy format`, /re-save the weights with a current torch/);
});

test('hand-built pickles: only the allowed globals and opcodes pass', () => {
  const bytes = (text: string) => Uint8Array.from([...text].map((char) => char.charCodeAt(0)));
  const source = 'x.pkl';
  expectError(() => readPickle(bytes('\x80\x02cbuiltins\neval\nq\x00X\x02\x00\x00\x001+q\x01\x85R.'), source), source, /refers to 'builtins\.eval'/);
  expectError(() => readPickle(bytes('\x80\x02(cos\nsystem\nX\x01\x00\x00\x00xi.'), source), source, /refers to 'os\.system'/);
  expectError(() => readPickle(bytes('\x80\x02(X\x01\x00\x00\x00xio\n.'), source), source, /opcode INST at byte 9/);
  expectError(() => readPickle(bytes('\x80\x02ccollections\nOrderedDict\n)\x81.'), source), source, /opcode NEWOBJ/);
  expectError(() => readPickle(bytes('\x80\x02X\x01\x00\x00\x00a)R.'), source), source, /calls a string/);
  expectError(() => readPickle(bytes('\x80\x02X\xff\xff\xff\x00a.'), source), source, /ends inside an opcode's argument/);
  expectError(() => readPickle(bytes('\x80\x02}'), source), source, /ends without a STOP/);
  expectError(() => readPickle(bytes('\x80\x02h\x05.'), source), source, /memo entry 5, which was never stored/);
  expectError(() => readPickle(bytes('\x80\x02}}.'), source), source, /stops with 2 values/);
  const dict = readPickle(bytes('\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01X\x01\x00\x00\x00aK\x07s}b.'), source);
  assert.equal([...(dict as { entries: Map<string, unknown> }).entries], [['a', 7]]);
});

/** A stored-only zip, optionally with zip64 records (sizes and offsets moved to extra fields), built by hand. */
function buildZip(entries: [string, Uint8Array][], zip64: boolean): Uint8Array {
  const parts: number[] = [];
  const u16 = (value: number) => parts.push(value & 0xff, value >>> 8);
  const u32 = (value: number) => { for (let i = 0; i < 4; i++) parts.push((value >>> (8 * i)) & 0xff); };
  const u64 = (value: number) => { u32(value); u32(0); };
  const central: { name: Uint8Array; offset: number; data: Uint8Array }[] = [];
  for (const [text, data] of entries) {
    const name = new TextEncoder().encode(text);
    central.push({ name, offset: parts.length, data });
    u32(0x04034b50); u16(45); u16(0); u16(0); u16(0); u16(0); u32(crc32(data)); u32(data.length); u32(data.length); u16(name.length); u16(0);
    parts.push(...name, ...data);
  }
  const directoryOffset = parts.length;
  for (const { name, offset, data } of central) {
    u32(0x02014b50); u16(45); u16(45); u16(0); u16(0); u16(0); u16(0); u32(crc32(data));
    u32(zip64 ? 0xffffffff : data.length); u32(zip64 ? 0xffffffff : data.length); u16(name.length); u16(zip64 ? 28 : 0); u16(0); u16(0); u16(0); u32(0);
    u32(zip64 ? 0xffffffff : offset);
    parts.push(...name);
    if (zip64) { u16(1); u16(24); u64(data.length); u64(data.length); u64(offset); }
  }
  const directorySize = parts.length - directoryOffset;
  if (zip64) {
    const record = parts.length;
    u32(0x06064b50); u64(44); u16(45); u16(45); u32(0); u32(0); u64(entries.length); u64(entries.length); u64(directorySize); u64(directoryOffset);
    u32(0x07064b50); u32(0); u64(record); u32(1);
  }
  u32(0x06054b50); u16(0); u16(0); u16(zip64 ? 0xffff : entries.length); u16(zip64 ? 0xffff : entries.length);
  u32(zip64 ? 0xffffffff : directorySize); u32(zip64 ? 0xffffffff : directoryOffset); u16(0);
  return Uint8Array.from(parts);
}

test('zip: plain and zip64 archives read alike; corruption is named', () => {
  const entries: [string, Uint8Array][] = [['m/data.pkl', Uint8Array.from([1, 2, 3])], ['m/data/0', Uint8Array.from([9, 8, 7, 6])]];
  for (const zip64 of [false, true]) {
    const archive = readZip(buildZip(entries, zip64), 'a.zip');
    assert.equal(archive.entries.map((entry) => entry.name), ['m/data.pkl', 'm/data/0']);
    assert.equal([...archive.read('m/data/0')], [9, 8, 7, 6], `zip64 ${zip64}`);
  }
  const good = buildZip(entries, true);
  const flipped = good.slice();
  flipped[30 + 'm/data.pkl'.length + 1] ^= 0xff;
  expectError(() => readZip(flipped, 'a.zip').read('m/data.pkl'), 'a.zip', /entry 'm\/data\.pkl' fails its CRC-32/);
  expectError(() => readZip(good.subarray(0, good.length - 30), 'a.zip'), 'a.zip', /no zip end-of-central-directory record/);
  expectError(() => readZip(Uint8Array.from([1, 2]), 'a.zip'), 'a.zip', /too short for a zip archive/);
  const plain = buildZip(entries, false);
  const compressed = plain.slice();
  const directory = new DataView(plain.buffer).getUint32(plain.length - 6, true);
  compressed[directory + 10] = 8;
  expectError(() => readZip(compressed, 'a.zip'), 'a.zip', /entry 'm\/data\.pkl' is compressed \(method 8\)/);
  const pastEnd = plain.slice();
  new DataView(pastEnd.buffer).setUint32(directory + 42, 1e6, true);
  expectError(() => readZip(pastEnd, 'a.zip'), 'a.zip', /the local header of 'm\/data\.pkl' at byte 1000000 .* lies outside/);
  const hugeCount = plain.slice();
  new DataView(hugeCount.buffer).setUint16(plain.length - 12, 5000, true);
  expectError(() => readZip(hugeCount, 'a.zip'), 'a.zip', /5000 entries cannot fit/);
});

test('a pytorch archive whose storage is shorter than its tensor is refused', () => {
  const path = INTEROP('hf-mlm', 'pytorch_model.bin');
  const bytes = new Uint8Array(readFileSync(path));
  const archive = readZip(bytes, path);
  const storage = archive.entries.find((entry) => entry.name === 'pytorch_model/data/0')!;
  // Corrupting one storage byte: the CRC-32 catches it when that tensor is read.
  bytes[storage.begin] ^= 1;
  const state = readPytorchStateDict(bytes, path);
  const first = state.tensors.find((tensor) => (tensor as unknown as { entry: string }).entry === 'pytorch_model/data/0')!;
  expectError(() => state.readFloat32(first.name), path, /entry 'pytorch_model\/data\/0' fails its CRC-32/);
});

test.run();
