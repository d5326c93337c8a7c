import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  decodeStringTensor, DT_INT64, DT_STRING, encodeStringTensor, maskedCrc32c, writeRawCheckpoint,
} from '../../src/model/checkpoint/index.js';
import { openCheckpoint } from '../../src/node/checkpoint-files.js';
import { errorLines, runCli } from '../support/tiny-model.js';

const encoder = new TextEncoder();
const scratch = mkdtempSync(join(tmpdir(), 'simbert-string-tensor-'));
test.after(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * ['ab', '', 'xyz'] as TensorFlow stores it. The two checksums were computed by hand from the
 * rule (bitwise CRC32C, then LevelDB's mask), not by the code under test:
 *   CRC32C(02000000 00000000 03000000) = 0x2ba19404, masked 0xca8b421b (stored little-endian);
 *   CRC32C continued over 1b428bca 'ab' 'xyz' = 0xe11c4ea0, masked 0x3fc4ad10 (the entry's crc32c).
 * A CRC32C of the stored bytes as they lie (the rule for every other dtype) gives 0x9751d63a.
 */
const HAND_LAYOUT = Uint8Array.from([2, 0, 3, 0x1b, 0x42, 0x8b, 0xca, ...encoder.encode('abxyz')]);
const HAND_ENTRY_CRC = 0x3fc4ad10;

test('a hand-computed string tensor: lengths, length checksum, bytes, and the entry checksum', () => {
  const layout = decodeStringTensor(HAND_LAYOUT, 3);
  assert.equal(layout.elements.map((element) => new TextDecoder().decode(element)), ['ab', '', 'xyz']);
  assert.is(layout.maskedCrc32c, HAND_ENTRY_CRC);
  assert.is(maskedCrc32c(HAND_LAYOUT), 0x9751d63a, 'the raw-bytes rule gives a different value');
  assert.equal([...encodeStringTensor(['ab', '', 'xyz'].map((text) => encoder.encode(text)))], [...HAND_LAYOUT]);
});

test('malformed string layouts are refused with what is wrong', () => {
  const badLengthCrc = HAND_LAYOUT.slice();
  badLengthCrc[3] ^= 1;
  assert.throws(() => decodeStringTensor(badLengthCrc, 3), /checksum of its string lengths is 0xca8b421a, computed 0xca8b421b/);
  assert.throws(() => decodeStringTensor(HAND_LAYOUT.subarray(0, 10), 3), /lengths add up to 5 bytes after a 7-byte prefix, but the tensor has 10 bytes/);
  assert.throws(() => decodeStringTensor(HAND_LAYOUT, 2), /checksum of its string lengths/);
  assert.throws(() => decodeStringTensor(Uint8Array.from([0x80, 0x80]), 1), /length of string element 0/);
  assert.throws(() => decodeStringTensor(Uint8Array.from([1]), 1), /ends before its 4-byte length checksum/);
  assert.throws(() => decodeStringTensor(new Uint8Array(4), 2 ** 40), /need at least 1099511627776 length bytes/);
});

/** A checkpoint shaped like tf.train.Checkpoint's: the object graph, a save counter, object-path variable names. */
function writeObjectBasedCheckpoint(prefix: string): void {
  mkdirSync(join(prefix, '..'), { recursive: true });
  const graph = encodeStringTensor([Uint8Array.from([0x0a, 0x05, 0x0a, 0x03, 0x08, 0x01, 0x12, ...encoder.encode('\u00e9 graph bytes')])]);
  const counter = new Uint8Array(8);
  new DataView(counter.buffer).setBigInt64(0, 1n, true);
  const kernel = new Float32Array([0.5, -1, 2, 0.25]);
  writeRawCheckpoint(prefix, [
    { name: '_CHECKPOINTABLE_OBJECT_GRAPH', tfDtype: DT_STRING, shape: [], bytes: graph },
    { name: 'save_counter/.ATTRIBUTES/VARIABLE_VALUE', tfDtype: DT_INT64, shape: [], bytes: counter },
    { name: 'model/layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE', tfDtype: 1, shape: [2, 2], bytes: new Uint8Array(kernel.buffer) },
    { name: 'model/vocab_table/.ATTRIBUTES/VARIABLE_VALUE', tfDtype: DT_STRING, shape: [3], bytes: HAND_LAYOUT },
  ]);
}

test('a TF2 object-based checkpoint lists with every CRC verified; its string entries carry the string-layout checksum', () => {
  const prefix = join(scratch, 'tf2', 'ckpt-1');
  writeObjectBasedCheckpoint(prefix);
  const reader = openCheckpoint(prefix);
  assert.is(reader.get('model/vocab_table/.ATTRIBUTES/VARIABLE_VALUE')?.crc32c, HAND_ENTRY_CRC);
  for (const tensor of reader.tensors) reader.verify(tensor.name);
  reader.close();
  const listed = runCli(['inspect-checkpoint', prefix]);
  assert.is(listed.status, 0, listed.stderr);
  assert.match(listed.stdout, /_CHECKPOINTABLE_OBJECT_GRAPH\s+string\s+\[\]/);
  assert.match(listed.stdout, /4 tensors, \d+ bytes; all 4 CRCs verified/);
});

test('a corrupt string tensor fails inspect-checkpoint naming the data file and the tensor', () => {
  const prefix = join(scratch, 'tf2-bad', 'ckpt-1');
  writeObjectBasedCheckpoint(prefix);
  const dataFile = `${prefix}.data-00000-of-00001`;
  const data = readFileSync(dataFile);
  const reader = openCheckpoint(prefix);
  const table = reader.get('model/vocab_table/.ATTRIBUTES/VARIABLE_VALUE')!;
  reader.close();
  data[table.offset + table.byteSize - 1] ^= 0x20; // 'z' -> 'Z': lengths intact, entry checksum wrong
  writeFileSync(dataFile, data);
  const result = runCli(['inspect-checkpoint', prefix]);
  assert.is(result.status, 1);
  const lines = errorLines(result);
  assert.is(lines.length, 1, result.stderr);
  assert.ok(lines[0].includes(dataFile) && lines[0].includes("'model/vocab_table/.ATTRIBUTES/VARIABLE_VALUE' fails its checksum"), lines[0]);

  data[table.offset + 3] ^= 1; // the length checksum itself
  writeFileSync(dataFile, data);
  const lengthLine = errorLines(runCli(['inspect-checkpoint', prefix]))[0];
  assert.match(lengthLine, /'model\/vocab_table\/\.ATTRIBUTES\/VARIABLE_VALUE' \(string tensor at bytes \d+\.\.\d+\) is malformed: the checksum of its string lengths/);
});

test('loading BERT weights from an object-based checkpoint names the Google BERT tensors that are missing', () => {
  const prefix = join(scratch, 'tf2-load', 'ckpt-1');
  writeObjectBasedCheckpoint(prefix);
  const configPath = join(scratch, 'tf2-load', 'bert_config.json');
  writeFileSync(configPath, JSON.stringify({
    vocab_size: 5, hidden_size: 4, num_hidden_layers: 1, num_attention_heads: 1, intermediate_size: 8, max_position_embeddings: 8, type_vocab_size: 2,
  }));
  const vocabPath = join(scratch, 'tf2-load', 'vocab.txt');
  writeFileSync(vocabPath, '[PAD]\n[UNK]\n[CLS]\n[SEP]\na\n');
  writeFileSync(join(scratch, 'tf2-load', 'texts.txt'), 'a\n');
  const result = runCli(['encode', '--config', configPath, '--checkpoint', prefix, '--vocab', vocabPath, '--texts', join(scratch, 'tf2-load', 'texts.txt'), '--format', 'jsonl']);
  assert.is(result.status, 1, result.stderr);
  assert.match(result.stderr, /simbert encode: .*ckpt-1 does not match the BERT config/);
  assert.match(result.stderr, /bert\/embeddings\/word_embeddings \[5, 4\] is missing/);
  assert.match(result.stderr, /bert\/encoder\/layer_0\/attention\/self\/query\/kernel \[4, 4\] is missing/);
  assert.match(result.stderr, /\(a TF2 object-based checkpoint: its variables are named by object path, e\.g\. 'model\/layer_with_weights-0\/kernel\/\.ATTRIBUTES\/VARIABLE_VALUE', not by Google BERT names/);
});

test.run();
