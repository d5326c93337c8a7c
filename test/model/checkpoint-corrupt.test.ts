import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeBundleEntry, encodeBundleHeader } from '../../src/model/checkpoint/bundle-proto.js';
import { CheckpointError } from '../../src/model/checkpoint/index.js';
import { BundleWriter, writeCheckpoint } from '../../src/node/checkpoint-writer.js';
import { parseCheckpointIndex } from '../../src/model/checkpoint/bundle-reader.js';
import { openCheckpoint } from '../../src/node/checkpoint-files.js';
import { crc32cExtend, maskCrc32c } from '../../src/model/checkpoint/crc32c.js';
import { buildTable } from '../../src/model/checkpoint/leveldb-table.js';
import { pushVarint, readVarint } from '../../src/model/checkpoint/protobuf.js';
import { sharedFixture } from '../support/fixtures.js';

const projectRoot = fileURLToPath(new URL('../../../', import.meta.url));
const cliEntry = join(projectRoot, 'dist', 'cli');
const tinyBert = sharedFixture('tf-ckpt-tiny-bert');
const workDir = mkdtempSync(join(tmpdir(), 'simbert-ckpt-corrupt-'));
const DATA = '.data-00000-of-00001';

interface BlockHandle {
  offset: number;
  size: number;
}

/** Footer and index block decoded by hand, independently of the reader under test. */
function tableLayout(file: Uint8Array): { metaindex: BlockHandle; index: BlockHandle; dataBlocks: BlockHandle[] } {
  const handle = (at: number): { handle: BlockHandle; next: number } => {
    const offset = readVarint(file, at);
    const size = readVarint(file, offset.next);
    return { handle: { offset: offset.value, size: size.value }, next: size.next };
  };
  const metaindex = handle(file.length - 48);
  const index = handle(metaindex.next);
  const block = file.subarray(index.handle.offset, index.handle.offset + index.handle.size);
  const restarts = new DataView(block.buffer, block.byteOffset, block.byteLength).getUint32(block.length - 4, true);
  const entriesEnd = block.length - 4 - 4 * restarts;
  const dataBlocks: BlockHandle[] = [];
  for (let at = 0; at < entriesEnd;) {
    const shared = readVarint(block, at);
    const nonShared = readVarint(block, shared.next);
    const valueLength = readVarint(block, nonShared.next);
    const valueStart = valueLength.next + nonShared.value;
    const offset = readVarint(block, valueStart);
    const size = readVarint(block, offset.next);
    dataBlocks.push({ offset: offset.value, size: size.value });
    at = valueStart + valueLength.value;
  }
  return { metaindex: metaindex.handle, index: index.handle, dataBlocks };
}

/** A valid checkpoint of 200 small tensors (several index data blocks) to damage copies of. */
const pristine = join(workDir, 'pristine', 'model.ckpt');
{
  const dir = join(workDir, 'pristine');
  rmSync(dir, { recursive: true, force: true });
  const tensors = Array.from({ length: 200 }, (_, i) => ({
    name: `bert/encoder/layer_${i % 12}/tensor_${i}`,
    shape: [i % 5, 3],
    data: Float32Array.from({ length: (i % 5) * 3 }, (_, j) => i + j / 8),
  }));
  mkdirFor(dir);
  writeCheckpoint(pristine, tensors);
}

function mkdirFor(dir: string): void {
  mkdirSync(dir, { recursive: true });
}

/** Copies the pristine checkpoint under a new name, lets `damage` edit its files, returns the prefix. */
function damagedCopy(name: string, damage: (files: { index: Buffer; data: Buffer }) => { index?: Buffer | null; data?: Buffer | null }): string {
  const dir = join(workDir, name);
  mkdirFor(dir);
  const prefix = join(dir, 'model.ckpt');
  const changed = damage({ index: readFileSync(pristine + '.index'), data: readFileSync(pristine + DATA) });
  const index = changed.index === undefined ? readFileSync(pristine + '.index') : changed.index;
  const data = changed.data === undefined ? readFileSync(pristine + DATA) : changed.data;
  if (index !== null) writeFileSync(prefix + '.index', index);
  if (data !== null) writeFileSync(prefix + DATA, data);
  return prefix;
}

function rewriteBlockCrc(file: Buffer, block: BlockHandle): void {
  const crc = maskCrc32c(crc32cExtend(crc32cExtend(0, file.subarray(block.offset, block.offset + block.size)), file.subarray(block.offset + block.size, block.offset + block.size + 1)));
  file.writeUInt32LE(crc, block.offset + block.size + 1);
}

function runCli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cliEntry, 'inspect-checkpoint', ...args], { encoding: 'utf8', timeout: 20000 });
  assert.is(result.error, undefined, `the CLI did not finish: ${result.error}`);
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The CLI must fail with exit 1 and exactly one message line, naming `file`, and no stack trace. */
function expectCliFailure(prefix: string, file: string, pattern: RegExp): void {
  const result = runCli(prefix);
  assert.is(result.status, 1, `exit status for ${pattern}: stdout=${result.stdout} stderr=${result.stderr}`);
  const lines = result.stderr.trim().split('\n');
  assert.is(lines.length, 1, `expected one message line, got:\n${result.stderr}`);
  assert.match(lines[0], /^simbert inspect-checkpoint: /);
  assert.ok(lines[0].includes(file), `message does not name ${file}: ${lines[0]}`);
  assert.match(lines[0], pattern);
  assert.is(result.stdout, '');
}

function expectOpenFailure(prefix: string, file: string, pattern: RegExp): void {
  assert.throws(() => openCheckpoint(prefix), (error: unknown) => {
    assert.ok(error instanceof CheckpointError, `not a CheckpointError: ${error}`);
    assert.ok(error.message.startsWith(file), `message does not start with ${file}: ${error.message}`);
    assert.match(error.message, pattern);
    return true;
  });
}

/** Opens fine but reading every tensor reports the damage. */
function expectVerifyFailure(prefix: string, file: string, pattern: RegExp): void {
  const reader = openCheckpoint(prefix);
  try {
    const messages: string[] = [];
    for (const tensor of reader.tensors) {
      try {
        reader.verify(tensor.name);
      } catch (error) {
        assert.ok(error instanceof CheckpointError);
        messages.push((error as Error).message);
      }
    }
    assert.ok(messages.length > 0, 'no tensor reported the damage');
    assert.ok(messages[0].startsWith(file), messages[0]);
    assert.match(messages[0], pattern);
  } finally {
    reader.close();
  }
}

test('the CLI is built (dist/cli), so its tests below mean something', () => {
  assert.ok(existsSync(join(cliEntry, 'index.js')), `run 'npx tsc -p tsconfig.json' first: ${cliEntry}/index.js is missing`);
});

test('pristine checkpoint: several data blocks, opens, CLI lists it and verifies every CRC', () => {
  const layout = tableLayout(readFileSync(pristine + '.index'));
  assert.ok(layout.dataBlocks.length >= 2);
  const reader = openCheckpoint(pristine);
  for (const tensor of reader.tensors) reader.verify(tensor.name);
  reader.close();
  const result = runCli(pristine);
  assert.is(result.status, 0, result.stderr);
  assert.match(result.stdout, /^name\s+dtype\s+shape\s+bytes\s+crc32c$/m);
  assert.match(result.stdout, /^bert\/encoder\/layer_0\/tensor_0\s+float32\s+\[0, 3\]\s+0\s+ok$/m);
  assert.match(result.stdout, /^bert\/encoder\/layer_1\/tensor_1\s+float32\s+\[1, 3\]\s+12\s+ok$/m);
  assert.match(result.stdout, /200 tensors, 4800 bytes \(4\.7 KiB\); all 200 CRCs verified/);
});

test('flipped byte in a data block of the index: checksum error', () => {
  const prefix = damagedCopy('flip-block', ({ index }) => {
    const block = tableLayout(index).dataBlocks[1];
    index[block.offset + 7] ^= 0x20;
    return { index };
  });
  expectOpenFailure(prefix, prefix + '.index', /data block 1 at byte \d+ fails its checksum \(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\); the file is corrupt/);
  expectCliFailure(prefix, prefix + '.index', /fails its checksum/);
});

test('flipped byte in the index block: checksum error', () => {
  const prefix = damagedCopy('flip-index', ({ index }) => {
    const block = tableLayout(index).index;
    index[block.offset + 2] ^= 0x01;
    return { index };
  });
  expectOpenFailure(prefix, prefix + '.index', /index block at byte \d+ fails its checksum/);
  expectCliFailure(prefix, prefix + '.index', /index block at byte \d+ fails its checksum/);
});

test('truncated index: no footer magic, or too short for a footer', () => {
  const cut = damagedCopy('truncated-index', ({ index }) => ({ index: index.subarray(0, index.length - 100) }));
  expectOpenFailure(cut, cut + '.index', /not the table magic 0xdb4775248b80fb57; .*truncated/);
  expectCliFailure(cut, cut + '.index', /not the table magic/);
  const stub = damagedCopy('stub-index', ({ index }) => ({ index: index.subarray(0, 20) }));
  expectOpenFailure(stub, stub + '.index', /it is 20 bytes, shorter than the 48-byte table footer; the file is truncated/);
  expectCliFailure(stub, stub + '.index', /shorter than the 48-byte table footer/);
  const empty = damagedCopy('empty-index', () => ({ index: Buffer.alloc(0) }));
  expectOpenFailure(empty, empty + '.index', /it is 0 bytes/);
});

test('wrong magic number', () => {
  const prefix = damagedCopy('wrong-magic', ({ index }) => {
    index[index.length - 1] = 0x00;
    return { index };
  });
  expectOpenFailure(prefix, prefix + '.index', /last 8 bytes are 0x00\w{14}, not the table magic/);
  expectCliFailure(prefix, prefix + '.index', /not the table magic/);
});

test('compressed block flag (with a valid checksum) is refused as compressed', () => {
  const prefix = damagedCopy('compressed', ({ index }) => {
    const block = tableLayout(index).dataBlocks[0];
    index[block.offset + block.size] = 1;
    rewriteBlockCrc(index, block);
    return { index };
  });
  expectOpenFailure(prefix, prefix + '.index', /data block 0 at byte 0 is compressed \(Snappy\); only uncompressed blocks are supported/);
  expectCliFailure(prefix, prefix + '.index', /is compressed \(Snappy\)/);
});

test('a footer handle pointing past the end of the file', () => {
  const prefix = damagedCopy('bad-handle', ({ index }) => {
    const layout = tableLayout(index);
    const handles: number[] = [];
    pushVarint(handles, layout.metaindex.offset);
    pushVarint(handles, layout.metaindex.size);
    pushVarint(handles, index.length * 3);
    pushVarint(handles, layout.index.size);
    const footer = index.length - 48;
    index.fill(0, footer, footer + 40);
    index.set(handles, footer);
    return { index };
  });
  expectOpenFailure(prefix, prefix + '.index', /index block at bytes \d+\.\.\d+ .* lies outside the \d+-byte file/);
  expectCliFailure(prefix, prefix + '.index', /lies outside/);
});

test('valid tables with invalid bundle contents: no header, shard beyond the header', () => {
  const encoder = new TextEncoder();
  const entry = encodeBundleEntry({ dtype: 1, shape: [1], shardId: 0, offset: 0, size: 4, crc32c: 0 });
  const noHeader = damagedCopy('no-header', () => ({ index: Buffer.from(buildTable([{ key: encoder.encode('w'), value: entry }])) }));
  expectOpenFailure(noHeader, noHeader + '.index', /has no bundle header/);
  expectCliFailure(noHeader, noHeader + '.index', /has no bundle header/);
  const header = encodeBundleHeader({ numShards: 1, endianness: 0, version: { producer: 1, minConsumer: 0, badConsumers: [] } });
  const farShard = encodeBundleEntry({ dtype: 1, shape: [1], shardId: 3, offset: 0, size: 4, crc32c: 0 });
  const badShard = damagedCopy('bad-shard', () => ({
    index: Buffer.from(buildTable([{ key: new Uint8Array(0), value: header }, { key: encoder.encode('w'), value: farShard }])),
  }));
  expectOpenFailure(badShard, badShard + '.index', /'w' is in shard 3, but the header says there are 1 shards/);
  const bigEndian = encodeBundleHeader({ numShards: 1, endianness: 1, version: { producer: 1, minConsumer: 0, badConsumers: [] } });
  const big = damagedCopy('big-endian', () => ({ index: Buffer.from(buildTable([{ key: new Uint8Array(0), value: bigEndian }])) }));
  expectOpenFailure(big, big + '.index', /big-endian/);
  const future = encodeBundleHeader({ numShards: 1, endianness: 0, version: { producer: 2, minConsumer: 2, badConsumers: [] } });
  const newer = damagedCopy('newer-version', () => ({ index: Buffer.from(buildTable([{ key: new Uint8Array(0), value: future }])) }));
  expectOpenFailure(newer, newer + '.index', /needs a reader of format version >= 2/);
  // bad_consumers [1], packed as proto3 serializes repeated int32: this reader (version 1) is excluded.
  const excluded = Uint8Array.from([0x08, 0x01, 0x1a, 0x05, 0x08, 0x01, 0x1a, 0x01, 0x01]);
  const banned = damagedCopy('bad-consumer', () => ({ index: Buffer.from(buildTable([{ key: new Uint8Array(0), value: excluded }])) }));
  expectOpenFailure(banned, banned + '.index', /other than 1; this reader is version 1/);
});

test('index bytes: a negative shard, 2^40 shards, overlapping tensors, and keys that expand quadratically are CheckpointErrors naming the file', () => {
  const encoder = new TextEncoder();
  const version = { producer: 1, minConsumer: 0, badConsumers: [] };
  const header = (numShards: number) => encodeBundleHeader({ numShards, endianness: 0, version });
  const expectIndexError = (bytes: Uint8Array, pattern: RegExp) => {
    assert.throws(() => parseCheckpointIndex('mem.ckpt', bytes), (error: unknown) =>
      error instanceof CheckpointError && error.message.startsWith('mem.ckpt.index: ') && pattern.test(error.message));
  };
  const negative = encodeBundleEntry({ dtype: 1, shape: [1], shardId: 0, offset: 0, size: 4, crc32c: 0 });
  // shard_id -1 as int32 varints encode it: ten bytes of two's complement.
  const withNegativeShard = Uint8Array.from([...negative, 0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  expectIndexError(buildTable([{ key: new Uint8Array(0), value: header(1) }, { key: encoder.encode('w'), value: withNegativeShard }]), /'w' is in shard -1/);
  expectIndexError(buildTable([{ key: new Uint8Array(0), value: header(2 ** 40) }]), /declares 1099511627776 data shards \(expected 1 to 99999\)/);
  const first = encodeBundleEntry({ dtype: 1, shape: [4], shardId: 0, offset: 0, size: 16, crc32c: 0 });
  const second = encodeBundleEntry({ dtype: 1, shape: [2], shardId: 0, offset: 8, size: 8, crc32c: 0 });
  expectIndexError(buildTable([{ key: new Uint8Array(0), value: header(1) }, { key: encoder.encode('a'), value: first }, { key: encoder.encode('b'), value: second }]),
    /'b' \(bytes 8\.\.16\) overlaps 'a' \(bytes 0\.\.16\) in shard 0/);
  const growing = Array.from({ length: 3000 }, (_, i) => ({ key: encoder.encode('k'.repeat(i + 1)), value: new Uint8Array(0) }));
  expectIndexError(buildTable([{ key: new Uint8Array(0), value: header(1) }, ...growing], { restartInterval: 1 << 30 }), /keys expand to more than 64 bytes per byte/);
});

test('flipped byte in the data file: tensor checksum error naming the data file and tensor', () => {
  const prefix = damagedCopy('flip-data', ({ data }) => {
    data[100] ^= 0x01;
    return { data };
  });
  expectVerifyFailure(prefix, prefix + DATA, /: 'bert\/encoder\/layer_\d+\/tensor_\d+' fails its checksum .*the data is corrupt/);
  expectCliFailure(prefix, prefix + DATA, /fails its checksum/);
});

test('truncated data file: says which tensor runs past the end', () => {
  const prefix = damagedCopy('truncated-data', ({ data }) => ({ data: data.subarray(0, data.length - 10) }));
  expectVerifyFailure(prefix, prefix + DATA, /occupies bytes \d+\.\.4800 but the file has only 4790 bytes; it is truncated/);
  expectCliFailure(prefix, prefix + DATA, /it is truncated/);
});

test('missing data shard: reading fails; the CLI lists an index-only checkpoint but fails on a partial one', () => {
  const indexOnly = damagedCopy('index-only', () => ({ data: null }));
  const reader = openCheckpoint(indexOnly);
  assert.is(reader.hasData, false);
  assert.equal(reader.missingDataFiles, [indexOnly + DATA]);
  assert.throws(() => reader.readFloat32(reader.tensors[5].name), (error: unknown) =>
    error instanceof CheckpointError && error.message.startsWith(indexOnly + DATA) && /data shard is missing/.test(error.message));
  reader.close();
  const listed = runCli(indexOnly);
  assert.is(listed.status, 0, listed.stderr);
  assert.match(listed.stdout, /200 tensors, 4800 bytes \(4\.7 KiB\); data file .*model\.ckpt\.data-00000-of-00001 is absent, so CRCs were not verified/);
  assert.match(listed.stdout, /^bert\/encoder\/layer_1\/tensor_1\s+float32\s+\[1, 3\]\s+12\s+-$/m);
  const json = runCli(indexOnly, '--json');
  assert.is(json.status, 0, json.stderr);
  const parsed = JSON.parse(json.stdout);
  assert.is(parsed.dataPresent, false);
  assert.is(parsed.tensors.length, 200);
  assert.ok(parsed.tensors.every((t: { crcVerified: boolean }) => t.crcVerified === false));

  const dir = join(workDir, 'two-shards');
  mkdirFor(dir);
  const sharded = join(dir, 'model.ckpt');
  const writer = new BundleWriter(sharded, { numShards: 2 });
  writer.addFloat32('a', [1], Float32Array.from([1]), 0);
  writer.addFloat32('b', [1], Float32Array.from([2]), 1);
  writer.finish();
  rmSync(sharded + '.data-00001-of-00002');
  const partial = openCheckpoint(sharded);
  assert.equal([...partial.readFloat32('a')], [1]);
  assert.throws(() => partial.readFloat32('b'), /model\.ckpt\.data-00001-of-00002: data shard is missing/);
  partial.close();
  expectCliFailure(sharded, sharded + '.data-00001-of-00002', /data shard is missing \(1 of 2 shards present\)/);
});

test('missing index file or a non-checkpoint file', () => {
  const missing = join(workDir, 'nothing-here', 'model.ckpt');
  expectOpenFailure(missing, missing + '.index', /no such file/);
  expectCliFailure(missing, missing + '.index', /no such file/);
  const text = damagedCopy('text-file', () => ({ index: Buffer.from('this is not a checkpoint index, just some words of text\n'.repeat(3)) }));
  expectOpenFailure(text, text + '.index', /not the table magic/);
});

(tinyBert ? test : test.skip)('CLI on the TF-written checkpoint: table, summary and --json', () => {
  const prefix = join(tinyBert!, 'bert_model.ckpt');
  const result = runCli(prefix + '.index');
  assert.is(result.status, 0, result.stderr);
  assert.match(result.stdout, /^bert\/embeddings\/word_embeddings\s+float32\s+\[15, 4\]\s+240\s+ok$/m);
  assert.match(result.stdout, /^global_step\s+int64\s+\[\]\s+8\s+ok$/m);
  assert.match(result.stdout, /139 tensors, 8420 bytes \(8\.2 KiB\); all 139 CRCs verified\n$/);
  const json = runCli(prefix, '--json');
  assert.is(json.status, 0, json.stderr);
  const parsed = JSON.parse(json.stdout);
  assert.is(parsed.prefix, prefix);
  assert.is(parsed.dataPresent, true);
  assert.is(parsed.tensors.length, 139);
  assert.is(parsed.totalBytes, 8420);
  assert.equal(parsed.tensors[138], { name: 'global_step', dtype: 'int64', tfDtype: 'DT_INT64', shape: [], byteSize: 8, crcVerified: true });
  const withConfig = runCli(prefix, '--config', join(tinyBert!, 'bert_config.json'));
  assert.is(withConfig.status, 0, withConfig.stderr);
  assert.match(withConfig.stdout, /matches .*bert_config\.json\nunused by the model: cls\/seq_relationship\/output_bias, cls\/seq_relationship\/output_weights$/m);
});

test.after(() => rmSync(workDir, { recursive: true, force: true }));

test.run();
