import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  bytesShard, CheckpointError, CheckpointReader, checkpointPrefix, crc32c, DT_INT64, DT_STRING, maskCrc32c, parseCheckpointIndex, TENSORFLOW_BLOCK_SIZE, unmaskCrc32c, type CheckpointTensor,
} from '../../src/model/checkpoint/index.js';
import { BundleWriter, copyCheckpoint, writeCheckpoint, writeRawCheckpoint } from '../../src/node/checkpoint-writer.js';
import { openCheckpoint } from '../../src/node/checkpoint-files.js';
import { decodeBundleEntry, encodeBundleEntry } from '../../src/model/checkpoint/bundle-proto.js';
import { buildTable, readTable, shortestSeparator, shortSuccessor } from '../../src/model/checkpoint/leveldb-table.js';
import { decodeFields, readVarint } from '../../src/model/checkpoint/protobuf.js';
import { sharedFixture } from '../support/fixtures.js';
import { rng } from '../support/random.js';

const tinyBert = sharedFixture('tf-ckpt-tiny-bert');
const googleIndex = sharedFixture('google-chinese-bert-index');
const encoder = new TextEncoder();

function withTempDir<T>(body: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'simbert-ckpt-'));
  try {
    return body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function bytesOf(array: Float32Array): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

/** Number of data blocks, read from the index block without the reader under test. */
function dataBlockCount(indexFile: Uint8Array): number {
  const footer = indexFile.length - 48;
  const metaOffset = readVarint(indexFile, footer);
  const metaSize = readVarint(indexFile, metaOffset.next);
  const indexOffset = readVarint(indexFile, metaSize.next);
  const indexSize = readVarint(indexFile, indexOffset.next);
  const block = indexFile.subarray(indexOffset.value, indexOffset.value + indexSize.value);
  // The index block has a restart point at every entry, so its restart count is its entry count.
  return new DataView(block.buffer, block.byteOffset, block.byteLength).getUint32(block.length - 4, true);
}

/** The fixture's listing lines: "name dtype [shape] shard N off N size N". */
function expectedListing(dir: string): string[] {
  return readFileSync(join(dir, 'index-listing.derived.txt'), 'utf8').split('\n').filter((line) => / shard \d+ off \d+ size \d+$/.test(line));
}

function listing(reader: CheckpointReader): string[] {
  return reader.tensors.map((t) => `${t.name} ${t.dtype} [${t.shape.join(', ')}] shard ${t.shardId} off ${t.offset} size ${t.byteSize}`);
}

test('crc32c matches the Castagnoli check value and LevelDB masking round-trips', () => {
  assert.is(crc32c(encoder.encode('123456789')), 0xe3069283);
  assert.is(crc32c(new Uint8Array(32)), 0x8a9136aa); // RFC 3720 test vector: 32 zero bytes
  assert.is(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  // Long input exercises the 8-byte path; compare against a bytewise reference.
  const random = rng(7);
  const data = Uint8Array.from({ length: 1001 }, () => Math.floor(random() * 256));
  let reference = 0xffffffff;
  for (const byte of data) {
    reference ^= byte;
    for (let bit = 0; bit < 8; bit++) reference = reference & 1 ? (reference >>> 1) ^ 0x82f63b78 : reference >>> 1;
  }
  assert.is(crc32c(data), ~reference >>> 0);
  for (const value of [0, 1, 0xe3069283, 0xffffffff]) assert.is(unmaskCrc32c(maskCrc32c(value)), value);
  assert.is.not(maskCrc32c(0x12345678), 0x12345678);
});

test('protobuf varints: multi-byte values, int64 -1, and truncated input', () => {
  assert.equal(readVarint(Uint8Array.from([0xac, 0x02]), 0), { value: 300, next: 2 });
  const minusOne = Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  assert.is(readVarint(minusOne, 0).value, -1);
  assert.throws(() => readVarint(Uint8Array.from([0x80, 0x80]), 0), /runs past the end/);
  assert.throws(() => decodeFields(Uint8Array.from([0x12, 0x05, 0x01])), /claims 5 bytes/);
  const entry = { dtype: 1, shape: [3, 0, 7], shardId: 2, offset: 2 ** 40, size: 84, crc32c: 0xdeadbeef };
  const decoded = decodeBundleEntry(encodeBundleEntry(entry));
  assert.equal({ ...decoded, unknownRank: undefined, slices: undefined }, { ...entry, unknownRank: undefined, slices: undefined });
  // An unknown dimension (size -1) inside a shape decodes as -1.
  const shape = Uint8Array.from([0x12, 0x0b, 0x08, ...minusOne]);
  assert.equal(decodeBundleEntry(Uint8Array.from([0x12, shape.length, ...shape])).shape, [-1]);
});

test('LevelDB key shortening follows the bytewise comparator rules', () => {
  const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
  assert.is(text(shortestSeparator(encoder.encode('abcdefg'), encoder.encode('abzzz'))), 'abd');
  assert.is(text(shortestSeparator(encoder.encode('abc'), encoder.encode('abd'))), 'abc'); // c+1 is not < d
  assert.is(text(shortestSeparator(encoder.encode('ab'), encoder.encode('abc'))), 'ab'); // prefix: unchanged
  assert.is(text(shortSuccessor(encoder.encode('global_step'))), 'h');
  assert.equal([...shortSuccessor(Uint8Array.from([0xff, 0xff, 0x10, 0x20]))], [0xff, 0xff, 0x11]);
});

test('prefix may be given with or without .index or as a data shard', () => {
  assert.is(checkpointPrefix('d/bert_model.ckpt'), 'd/bert_model.ckpt');
  assert.is(checkpointPrefix('d/bert_model.ckpt.index'), 'd/bert_model.ckpt');
  assert.is(checkpointPrefix('d/bert_model.ckpt.data-00000-of-00001'), 'd/bert_model.ckpt');
});

(tinyBert ? test : test.skip)('TF-written tiny BERT: 139 tensors listed as the derived listing, every CRC verified', () => {
  const dir = tinyBert!;
  for (const path of [join(dir, 'bert_model.ckpt'), join(dir, 'bert_model.ckpt.index')]) {
    const reader = openCheckpoint(path);
    try {
      assert.is(reader.tensors.length, 139);
      assert.ok(reader.hasData);
      assert.equal(reader.header, { numShards: 1, endianness: 0, version: { producer: 1, minConsumer: 0, badConsumers: [] } });
      assert.equal(listing(reader), expectedListing(dir));
      for (const tensor of reader.tensors) reader.verify(tensor.name);
      const gamma = reader.readFloat32('bert/embeddings/LayerNorm/gamma');
      assert.is(gamma.length, 4);
      assert.ok(gamma.every(Number.isFinite));
      const words = reader.readFloat32('bert/embeddings/word_embeddings');
      assert.is(words.length, 15 * 4);
      assert.is(reader.get('global_step')?.dtype, 'int64');
      assert.is(reader.get('global_step')?.tfDtype, DT_INT64);
      assert.throws(() => reader.readFloat32('global_step'), /'global_step' is int64 \(DT_INT64\), not float32/);
      assert.is(new DataView(reader.readBytes('global_step').buffer).getBigInt64(0, true), 20n); // "saved after 20 steps"
      const loaded = reader.loadFloat32();
      assert.is(loaded.tensors.size, 138);
      assert.equal(loaded.skipped.map((s) => s.name), ['global_step']);
      assert.match(loaded.skipped[0].reason, /int64 \(DT_INT64\); only float32 tensors are loaded/);
      assert.throws(() => reader.readFloat32('no/such/tensor'), (e: unknown) => e instanceof CheckpointError && /no tensor named 'no\/such\/tensor'/.test(e.message));
    } finally {
      reader.close();
    }
  }
});

(googleIndex ? test : test.skip)('Google Chinese BERT index: 206 entries match the derived listing; no data file', () => {
  const reader = openCheckpoint(join(googleIndex!, 'bert_model.ckpt'));
  assert.is(reader.tensors.length, 206);
  assert.is(reader.hasData, false);
  assert.equal(listing(reader), expectedListing(googleIndex!));
  assert.equal(reader.get('bert/embeddings/word_embeddings')?.shape, [21128, 768]);
  assert.throws(() => reader.readFloat32('bert/pooler/dense/bias'), /data-00000-of-00001: data shard is missing/);
  reader.close();
});

(googleIndex ? test : test.skip)('Google Chinese BERT index rebuilt from its entries is byte-identical with TF block size', () => {
  const file = readFileSync(join(googleIndex!, 'bert_model.ckpt.index'));
  assert.ok(Buffer.from(buildTable(readTable(file), { blockSize: TENSORFLOW_BLOCK_SIZE })).equals(file));
});

(tinyBert ? test : test.skip)('re-writing the TF checkpoint: byte-identical with TF block size, same data and entries with 4 KiB blocks', () => {
  const source = join(tinyBert!, 'bert_model.ckpt');
  withTempDir((dir) => {
    const identical = join(dir, 'tf-layout.ckpt');
    copyCheckpoint(openCheckpoint(source), identical, { blockSize: TENSORFLOW_BLOCK_SIZE });
    for (const suffix of ['.index', '.data-00000-of-00001']) {
      assert.ok(readFileSync(identical + suffix).equals(readFileSync(source + suffix)), `${suffix} differs from TensorFlow's`);
    }
    // The float32 API plus raw int64 pass-through gives the same files: TF's Saver also writes in sorted order.
    const reader = openCheckpoint(source);
    const viaFloatApi = join(dir, 'via-float.ckpt');
    const writer = new BundleWriter(viaFloatApi, { blockSize: TENSORFLOW_BLOCK_SIZE });
    for (const tensor of reader.tensors) {
      if (tensor.dtype === 'float32') writer.addFloat32(tensor.name, tensor.shape, reader.readFloat32(tensor.name));
      else writer.add(tensor.name, tensor.tfDtype, tensor.shape, reader.readBytes(tensor.name));
    }
    writer.finish();
    assert.ok(readFileSync(viaFloatApi + '.index').equals(readFileSync(source + '.index')));
    // Default 4 KiB blocks: the data file is still identical; the index differs only in block layout.
    const defaults = join(dir, 'default.ckpt');
    copyCheckpoint(reader, defaults);
    assert.ok(readFileSync(defaults + '.data-00000-of-00001').equals(readFileSync(source + '.data-00000-of-00001')));
    const rewrittenIndex = readFileSync(defaults + '.index');
    assert.is.not(rewrittenIndex.length, readFileSync(source + '.index').length);
    assert.ok(dataBlockCount(rewrittenIndex) > 1);
    const reread = openCheckpoint(defaults);
    assert.equal(reread.tensors, reader.tensors);
    reread.close();
    reader.close();
  });
});

test('writer round trip: awkward shapes, scalars, empty tensors, special values, many index blocks', () => {
  const random = rng(12345);
  const shapes = [[], [1], [0], [3, 0, 2], [7], [5, 3], [2, 3, 5, 7], [13, 1], [1, 1, 1]];
  const tensors: CheckpointTensor[] = [];
  for (let i = 0; i < 400; i++) {
    const shape = i < shapes.length ? shapes[i] : [1 + Math.floor(random() * 9), 1 + Math.floor(random() * 6)];
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1)).map(() => (random() - 0.5) * 10);
    // Shared prefixes of varied length exercise prefix compression and restart points.
    tensors.push({ name: `model/layer_${i % 37}/sub_${Math.floor(i / 37)}/w${i}`, shape, data });
  }
  tensors.push({ name: 'special/values', shape: [6], data: Float32Array.from([NaN, -0, Infinity, -Infinity, 1e-45, 3.4028234663852886e38]) });
  tensors.push({ name: 'unicode/权重/ß', shape: [2], data: Float32Array.from([1, 2]) });
  tensors.reverse(); // The writer must sort.
  withTempDir((dir) => {
    const prefix = join(dir, 'round.ckpt');
    writeCheckpoint(prefix, tensors);
    const index = readFileSync(prefix + '.index');
    assert.ok(dataBlockCount(index) >= 3, `expected several data blocks, got ${dataBlockCount(index)}`);
    const reader = openCheckpoint(prefix + '.index');
    assert.is(reader.tensors.length, tensors.length);
    const names = reader.tensors.map((t) => t.name);
    const byteOrder = [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    assert.equal(names, byteOrder);
    let expectedOffset = 0;
    for (const tensor of reader.tensors) {
      // Data is laid out contiguously in key order, as TensorFlow's Saver does it.
      assert.is(tensor.offset, expectedOffset);
      expectedOffset += tensor.byteSize;
    }
    for (const original of tensors) {
      const info = reader.get(original.name)!;
      assert.equal(info.shape, original.shape);
      assert.is(info.dtype, 'float32');
      const values = reader.readFloat32(original.name);
      assert.ok(Buffer.from(bytesOf(values)).equals(Buffer.from(bytesOf(original.data))), `values of ${original.name} differ`);
    }
    assert.is(readFileSync(prefix + '.data-00000-of-00001').length, expectedOffset);
    reader.close();
  });
});

test('DT_STRING and other dtypes are listed, verified and skipped, never loaded as float32', () => {
  // TensorFlow's string layout: varint lengths, a 4-byte checksum of the lengths, then the bytes.
  const stringBytes = Uint8Array.from([2, 0, 3, 0x1b, 0x42, 0x8b, 0xca, ...encoder.encode('abxyz')]);
  const int64Bytes = new Uint8Array(8);
  new DataView(int64Bytes.buffer).setBigInt64(0, 42n, true);
  withTempDir((dir) => {
    const prefix = join(dir, 'mixed.ckpt');
    writeRawCheckpoint(prefix, [
      { name: 'vocab', tfDtype: DT_STRING, shape: [3], bytes: stringBytes },
      { name: 'global_step', tfDtype: DT_INT64, shape: [], bytes: int64Bytes },
      { name: 'half', tfDtype: 19, shape: [2], bytes: Uint8Array.from([0, 0x3c, 0, 0xc0]) },
      { name: 'w', tfDtype: 1, shape: [2], bytes: bytesOf(Float32Array.from([0.5, -2])) },
    ]);
    const reader = openCheckpoint(prefix);
    assert.equal(reader.tensors.map((t) => [t.name, t.dtype]), [['global_step', 'int64'], ['half', 'float16'], ['vocab', 'string'], ['w', 'float32']]);
    for (const tensor of reader.tensors) reader.verify(tensor.name);
    assert.throws(() => reader.readFloat32('vocab'), /'vocab' is string \(DT_STRING\), not float32/);
    assert.throws(() => reader.readFloat32('half'), /is float16 \(DT_HALF\)/);
    const { tensors, skipped } = reader.loadFloat32();
    assert.equal([...tensors.keys()], ['w']);
    assert.equal([...tensors.get('w')!], [0.5, -2]);
    assert.equal(skipped.map((s) => s.name), ['global_step', 'half', 'vocab']);
    assert.ok(Buffer.from(reader.readBytes('vocab')).equals(Buffer.from(stringBytes)));
    reader.close();
  });
});

test('writer rejects what TensorFlow could not read back', () => {
  withTempDir((dir) => {
    const prefix = join(dir, 'bad.ckpt');
    assert.throws(() => writeCheckpoint(prefix, [{ name: 'a', shape: [2, 2], data: new Float32Array(3) }]), /shape \[2, 2\] \(4 values\) but 3 values/);
    assert.throws(() => writeCheckpoint(prefix, [{ name: '', shape: [], data: new Float32Array(1) }]), /must not be empty/);
    const twice = { name: 'dup', shape: [1], data: new Float32Array(1) };
    assert.throws(() => writeCheckpoint(prefix, [twice, twice]), /added twice/);
    assert.throws(() => writeCheckpoint(prefix, [{ name: 'n', shape: [-1], data: new Float32Array(0) }]), /invalid shape/);
    // A failed write leaves no partial checkpoint behind.
    assert.throws(() => openCheckpoint(prefix), /no such file/);
  });
});

test('a directory resolves through its checkpoint state file or its only .index', () => {
  withTempDir((dir) => {
    const tensor = (value: number): CheckpointTensor[] => [{ name: 'w', shape: [1], data: Float32Array.from([value]) }];
    writeCheckpoint(join(dir, 'model.ckpt-10'), tensor(10));
    assert.is(openCheckpoint(dir).prefix, join(dir, 'model.ckpt-10'));
    writeCheckpoint(join(dir, 'model.ckpt-20'), tensor(20));
    assert.throws(() => openCheckpoint(dir), /it is a directory with 2 checkpoints \(model\.ckpt-10\.index, model\.ckpt-20\.index\); give one prefix/);
    writeFileSync(join(dir, 'checkpoint'), 'model_checkpoint_path: "model.ckpt-20"\nall_model_checkpoint_paths: "model.ckpt-10"\nall_model_checkpoint_paths: "model.ckpt-20"\n');
    const reader = openCheckpoint(dir);
    assert.equal([...reader.readFloat32('w')], [20]);
    reader.close();
  });
  withTempDir((dir) => assert.throws(() => openCheckpoint(dir), /it is a directory with no \.index file/));
});

test('multi-shard checkpoints: entries name their shard, every shard file is needed', () => {
  withTempDir((dir) => {
    const prefix = join(dir, 'sharded.ckpt');
    const writer = new BundleWriter(prefix, { numShards: 2 });
    writer.addFloat32('a', [2], Float32Array.from([1, 2]), 0);
    writer.addFloat32('b', [3], Float32Array.from([3, 4, 5]), 1);
    writer.addFloat32('c', [1], Float32Array.from([6]), 1);
    writer.finish();
    const reader = openCheckpoint(prefix);
    assert.equal(reader.dataFiles, [`${prefix}.data-00000-of-00002`, `${prefix}.data-00001-of-00002`]);
    assert.equal(reader.tensors.map((t) => [t.name, t.shardId, t.offset]), [['a', 0, 0], ['b', 1, 0], ['c', 1, 12]]);
    assert.equal([...reader.readFloat32('c')], [6]);
    reader.close();
    const fromBytes = parseCheckpointIndex('fetched/sharded.ckpt', readFileSync(`${prefix}.index`));
    assert.equal(fromBytes.dataFiles, ['fetched/sharded.ckpt.data-00000-of-00002', 'fetched/sharded.ckpt.data-00001-of-00002']);
    const inMemory = new CheckpointReader(fromBytes, [null, bytesShard(readFileSync(`${prefix}.data-00001-of-00002`))]);
    assert.equal([...inMemory.readFloat32('b')], [3, 4, 5]);
    assert.equal(inMemory.missingDataFiles, ['fetched/sharded.ckpt.data-00000-of-00002']);
    assert.throws(() => inMemory.readFloat32('a'), /^fetched\/sharded\.ckpt\.data-00000-of-00002: data shard is missing/);
    const copy = join(dir, 'copy.ckpt');
    const source = openCheckpoint(prefix);
    copyCheckpoint(source, copy);
    source.close();
    for (const suffix of ['.index', '.data-00000-of-00002', '.data-00001-of-00002']) {
      assert.ok(readFileSync(copy + suffix).equals(readFileSync(prefix + suffix)), suffix);
    }
  });
});

test.run();
