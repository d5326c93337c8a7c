/**
 * The readers of outside bytes under fuzz, each with its seed inputs (real files from the shared
 * fixtures where present, and at least one input the project itself generates, so every reader
 * is fuzzed without shared/) and the test for its own error: an instance of the reader's error
 * class whose message starts with the name of the file it was given. Anything else thrown (a
 * TypeError or RangeError from deep inside, another class, a message naming no file) is a bug.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { bytesShard, CheckpointReader, parseCheckpointIndex } from '../../src/model/checkpoint/bundle-reader.js';
import { CheckpointError, DT_FLOAT, DT_INT64 } from '../../src/model/checkpoint/index.js';
import { writeCheckpoint, writeRawCheckpoint } from '../../src/node/checkpoint-writer.js';
import { buildTable, compareBytes, readTable, type TableEntry } from '../../src/model/checkpoint/leveldb-table.js';
import { FormatError } from '../../src/formats/errors.js';
import { readPytorchStateDict } from '../../src/formats/pytorch.js';
import { readSafetensors, writeSafetensors } from '../../src/formats/safetensors.js';
import type { TensorSource } from '../../src/formats/tensor-source.js';
import { crc32, readZip } from '../../src/formats/zip.js';
import { bertConfigToJson, bertParameterShapes, ConfigError, parseBertConfigBytes, type BertConfig } from '../../src/model/config.js';
import { optimizerStepOfState } from '../../src/model/model-folder.js';
import { Tokenizer } from '../../src/model/tokenizer.js';
import { buildVocab, parseVocab, VocabError } from '../../src/model/vocab.js';
import { DataError, parseTestPairs, parseTextLines, parseTrainGroups, wordPieceCounter, type TokenCounter } from '../../src/train/data.js';
import { generateDemoData, type DemoData } from '../../src/train/demo-data.js';
import { encodeNpyFloat32, NpyError, readNpyFloat32 } from '../../src/train/npy.js';
import { PairBatcher } from '../../src/train/batches.js';
import { parseTrainerState, serializeTrainerState } from '../../src/train/trainer-state.js';
import type { SeededRandom } from '../../src/model/random.js';
import { projectFixture, sharedFixturesDir } from '../support/fixtures.js';
import { mutate, mutateJsonValues, mutateOnce } from './mutate.js';

/** The files of one input, by name; `FuzzTarget.mutated` names the one that mutations change. */
export type InputFiles = Record<string, Uint8Array>;

export interface SeedInput {
  /** Where it came from, for reports: `shared:lcqmc-dev/dev.txt` or `generated:demo test.txt`. */
  origin: string;
  files: InputFiles;
}

export interface FuzzTarget {
  name: string;
  /** The file of each input that mutations change. */
  mutated: string;
  /** The unmutated inputs; `scratch` is a folder for generating them. */
  seeds(scratch: string): SeedInput[];
  /**
   * Reads `files`, named as if they lay in the folder `dir`, and returns what it read; throws
   * what the reader throws. `ownError` then judges the error.
   */
  run(files: InputFiles, dir: string): unknown;
  ownError(error: unknown, dir: string): boolean;
  /** A format-aware mutation, used instead of the byte-level ones of mutate.ts. */
  mutate?(bytes: Uint8Array, random: SeededRandom): { bytes: Uint8Array; mutations: string[] };
}

const encoder = new TextEncoder();

/** A shared fixture file's bytes, or null when shared/ or the file is absent (the test file says so once). */
function sharedFile(folder: string, file: string): Uint8Array | null {
  const root = sharedFixturesDir();
  const path = root === null ? null : join(root, folder, file);
  return path !== null && existsSync(path) ? new Uint8Array(readFileSync(path)) : null;
}

/** The first `count` lines of a text file: small seeds keep a case fast, and every line is real. */
function firstLines(bytes: Uint8Array, count: number): Uint8Array {
  let end = 0;
  for (let line = 0; line < count && end < bytes.length; line++) {
    const next = bytes.indexOf(0x0a, end);
    end = next < 0 ? bytes.length : next + 1;
  }
  return bytes.slice(0, end);
}

function sharedSeed(folder: string, file: string, name: string, lines?: number): SeedInput[] {
  const bytes = sharedFile(folder, file);
  if (bytes === null) return [];
  return [{ origin: `shared:${folder}/${file}${lines ? ` (first ${lines} lines)` : ''}`, files: { [name]: lines ? firstLines(bytes, lines) : bytes } }];
}

let demo: DemoData | null = null;
function demoData(): DemoData {
  demo ??= generateDemoData();
  return demo;
}

let counter: TokenCounter | null = null;
/** Word pieces under the demo vocabulary, so fuzzed texts also go through the tokenizer. */
function demoTokenCounter(): TokenCounter {
  counter ??= wordPieceCounter(new Tokenizer(buildVocab(demoData().vocabTokens).vocab));
  return counter;
}

/** The path a bytes-level reader is told: messages must start with it. */
function nameIn(dir: string, file: string): string {
  return join(dir, file);
}

function isOwn(error: unknown, errorClass: abstract new (...args: never[]) => Error, name: string): boolean {
  return error instanceof errorClass && error.message.startsWith(`${name}: `);
}

// --- TensorBundle checkpoints -------------------------------------------------------------------

const INDEX = 'model.ckpt.index';
const DATA = 'model.ckpt.data-00000-of-00001';

/** Project-written checkpoints: float32 tensors of several ranks (a scalar, an empty one) in small blocks, and an int64 beside a float32. */
function generatedCheckpoints(scratch: string): SeedInput[] {
  const dir = join(scratch, 'generated-checkpoint');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const values = (count: number) => Float32Array.from({ length: count }, (_, i) => Math.sin(i + 1));
  const floats = [
    { name: 'bert/embeddings/word_embeddings', shape: [6, 4], data: values(24) },
    { name: 'bert/embeddings/LayerNorm/gamma', shape: [4], data: values(4) },
    { name: 'bert/pooler/dense/kernel', shape: [4, 4], data: values(16) },
    { name: 'scalar', shape: [], data: values(1) },
    { name: 'empty', shape: [0, 3], data: values(0) },
  ];
  writeCheckpoint(join(dir, 'float'), floats, { blockSize: 64, restartInterval: 2 });
  const step = new Uint8Array(8);
  new DataView(step.buffer).setBigInt64(0, 12345n, true);
  writeRawCheckpoint(join(dir, 'mixed'), [
    { name: 'global_step', tfDtype: DT_INT64, shape: [], bytes: step },
    { name: 'w', tfDtype: DT_FLOAT, shape: [2], bytes: new Uint8Array(new Float32Array([1.5, -2]).buffer) },
  ]);
  const read = (prefix: string) => ({
    [INDEX]: new Uint8Array(readFileSync(join(dir, `${prefix}.index`))),
    [DATA]: new Uint8Array(readFileSync(join(dir, `${prefix}.data-00000-of-00001`))),
  });
  return [
    { origin: 'generated:checkpoint of 5 float32 tensors, 64-byte blocks', files: read('float') },
    { origin: 'generated:checkpoint of an int64 and a float32', files: read('mixed') },
  ];
}

function checkpointSeeds(scratch: string, withIndexOnly: boolean): SeedInput[] {
  const seeds: SeedInput[] = generatedCheckpoints(scratch);
  const tinyIndex = sharedFile('tf-ckpt-tiny-bert', 'bert_model.ckpt.index');
  const tinyData = sharedFile('tf-ckpt-tiny-bert', 'bert_model.ckpt.data-00000-of-00001');
  if (tinyIndex && tinyData) seeds.push({ origin: 'shared:tf-ckpt-tiny-bert/bert_model.ckpt', files: { [INDEX]: tinyIndex, [DATA]: tinyData } });
  const googleIndex = sharedFile('google-chinese-bert-index', 'bert_model.ckpt.index');
  if (withIndexOnly && googleIndex) seeds.push({ origin: 'shared:google-chinese-bert-index/bert_model.ckpt.index (no data)', files: { [INDEX]: googleIndex } });
  return seeds;
}

/** Parses the index and reads every tensor it can from the data shard's bytes, each CRC-checked. */
function readCheckpoint(files: InputFiles, dir: string): number {
  const index = parseCheckpointIndex(join(dir, 'model.ckpt'), files[INDEX] as Uint8Array);
  const data = files[DATA];
  const shards = index.dataFiles.map((file) => (data !== undefined && file === join(dir, DATA) ? bytesShard(data) : null));
  const reader = new CheckpointReader(index, shards);
  let read = 0;
  try {
    if (!reader.hasData) return reader.tensors.length;
    for (const tensor of reader.tensors) {
      if (tensor.partitioned) continue;
      if (tensor.tfDtype === DT_FLOAT && tensor.shape.every((size) => size >= 0)) read += reader.readFloat32(tensor.name).length;
      else read += reader.readBytes(tensor.name).length;
    }
  } finally {
    reader.close();
  }
  return read;
}

/**
 * Half the index cases mutate bytes anywhere (mostly caught by the block checksums); the other
 * half mutate one entry's value, or clone an entry under a new key, and rebuild the table with
 * valid checksums, so the bundle protos and the reader's checks behind the checksums get fuzzed.
 */
function mutateIndex(bytes: Uint8Array, random: SeededRandom): { bytes: Uint8Array; mutations: string[] } {
  let entries: TableEntry[] | null = null;
  if (random.nextFloat() < 0.5) {
    try {
      entries = readTable(bytes);
    } catch {
      entries = null;
    }
  }
  if (entries === null || entries.length === 0) {
    const { bytes: mutated, applied } = mutate(bytes, random);
    return { bytes: mutated, mutations: applied };
  }
  const chosen = random.nextInt(entries.length);
  const entry = entries[chosen] as TableEntry;
  let mutations: string[];
  if (random.nextFloat() < 0.2) {
    const key = Uint8Array.from([...entry.key, 0x5f]);
    entries.push({ key, value: entry.value });
    entries.sort((a, b) => compareBytes(a.key, b.key));
    entries = entries.filter((candidate, i) => i === 0 || compareBytes((entries as TableEntry[])[i - 1]!.key, candidate.key) !== 0);
    mutations = [`clone entry ${chosen} under a new key`];
  } else {
    const { bytes: value, applied } = mutate(entry.value, random);
    entries[chosen] = { key: entry.key, value };
    mutations = [`entry ${chosen} value:`, ...applied];
  }
  const table = buildTable(entries, { blockSize: 64 + random.nextInt(4096), restartInterval: 1 + random.nextInt(16) });
  return { bytes: table, mutations: [...mutations, 'table rebuilt with valid checksums'] };
}

function checkpointTarget(name: string, mutated: string, withIndexOnly: boolean): FuzzTarget {
  return {
    name,
    mutated,
    seeds: (scratch) => checkpointSeeds(scratch, withIndexOnly),
    run: readCheckpoint,
    ownError: (error, dir) => isOwn(error, CheckpointError, join(dir, INDEX)) || isOwn(error, CheckpointError, join(dir, DATA)),
    ...(mutated === INDEX ? { mutate: mutateIndex } : {}),
  };
}

// --- the other readers ---------------------------------------------------------------------------

const tinyConfig: BertConfig = {
  vocabSize: 30, hiddenSize: 8, numHiddenLayers: 2, numAttentionHeads: 2, intermediateSize: 16, hiddenAct: 'gelu',
  hiddenDropoutProb: 0.1, attentionProbsDropoutProb: 0.1, maxPositionEmbeddings: 64, typeVocabSize: 2, initializerRange: 0.02,
};

function bytesTarget(
  name: string,
  file: string,
  errorClass: abstract new (...args: never[]) => Error,
  makeSeeds: () => SeedInput[],
  read: (bytes: Uint8Array, fileName: string) => unknown,
): FuzzTarget {
  return {
    name,
    mutated: file,
    seeds: makeSeeds,
    run: (files, dir) => read(files[file] as Uint8Array, nameIn(dir, file)),
    ownError: (error, dir) => isOwn(error, errorClass, nameIn(dir, file)),
  };
}

/** For readers that throw plain Errors naming the file: a TypeError or RangeError is never their own. */
function plainErrorNaming(file: string): FuzzTarget['ownError'] {
  return (error, dir) => error instanceof Error && error.constructor === Error && error.message.startsWith(`${nameIn(dir, file)}: `);
}

function demoTrainJson(groups: number): Uint8Array {
  const data = demoData();
  const members = data.groups.slice(0, groups).map((texts, index) => `  ${JSON.stringify(data.groupKeys[index])}: ${JSON.stringify(texts)}`);
  return encoder.encode(`{\n${members.join(',\n')}\n}\n`);
}

function demoTestTsv(pairs: number): Uint8Array {
  return encoder.encode(demoData().testPairs.slice(0, pairs).map((pair) => `${pair.a}\t${pair.b}\t${pair.label}\n`).join(''));
}

// --- safetensors and PyTorch ---------------------------------------------------------------------

function byteLevel(bytes: Uint8Array, random: SeededRandom): { bytes: Uint8Array; mutations: string[] } {
  const { bytes: mutated, applied } = mutate(bytes, random);
  return { bytes: mutated, mutations: applied };
}

/** Half the cases edit values of the JSON document, so the checks behind its syntax get fuzzed. */
function mutateJson(bytes: Uint8Array, random: SeededRandom): { bytes: Uint8Array; mutations: string[] } {
  return (random.nextFloat() < 0.5 ? mutateJsonValues(bytes, random) : null) ?? byteLevel(bytes, random);
}

/** Half the cases mutate the JSON header and rewrite its length field, so the entries behind the length check get fuzzed. */
function mutateSafetensors(bytes: Uint8Array, random: SeededRandom): { bytes: Uint8Array; mutations: string[] } {
  if (random.nextFloat() < 0.5 || bytes.length < 8) return byteLevel(bytes, random);
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (8 + headerLength > bytes.length) return byteLevel(bytes, random);
  const { bytes: header, applied } = mutate(bytes.subarray(8, 8 + headerLength), random);
  const out = new Uint8Array(8 + header.length + bytes.length - 8 - headerLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  out.set(bytes.subarray(8 + headerLength), 8 + header.length);
  return { bytes: out, mutations: ['header:', ...applied, 'length field rewritten'] };
}

/**
 * Half the cases mutate the pickle (data.pkl) in place and patch its CRC-32 in the zip headers,
 * so the pickle reader behind the archive's checksums gets fuzzed.
 */
function mutatePytorch(bytes: Uint8Array, random: SeededRandom): { bytes: Uint8Array; mutations: string[] } {
  if (random.nextFloat() < 0.5) return byteLevel(bytes, random);
  let pickle;
  try {
    pickle = readZip(bytes, 'seed').entries.find((entry) => entry.name.endsWith('/data.pkl'));
  } catch {
    pickle = undefined;
  }
  if (!pickle || pickle.end <= pickle.begin) return byteLevel(bytes, random);
  const out = Uint8Array.from(bytes);
  const original = out.subarray(pickle.begin, pickle.end);
  const mutations: string[] = ['data.pkl in place:'];
  for (let count = 1 + random.nextInt(3); count > 0; count--) {
    const name = random.pick(['flip-bit', 'set-byte', 'huge-length'] as const);
    const mutated = mutateOnce(original, name, random);
    original.set(mutated.subarray(0, original.length));
    mutations.push(name);
  }
  const before = new Uint8Array(4);
  const after = new Uint8Array(4);
  new DataView(before.buffer).setUint32(0, pickle.crc32, true);
  new DataView(after.buffer).setUint32(0, crc32(original), true);
  for (let at = 0; at + 4 <= out.length; at++) {
    const inPickle = at + 4 > pickle.begin && at < pickle.end;
    if (!inPickle && out[at] === before[0] && out[at + 1] === before[1] && out[at + 2] === before[2] && out[at + 3] === before[3]) out.set(after, at);
  }
  mutations.push('CRC-32 patched');
  return { bytes: out, mutations };
}

/** Reads every floating-point tensor of a weights file, as the HuggingFace loader would. */
function readWeights(source: TensorSource, floating: (dtype: string) => boolean): number {
  let values = 0;
  for (const tensor of source.tensors) if (floating(tensor.dtype)) values += source.readFloat32(tensor.name).length;
  return values;
}

function projectFile(...parts: string[]): Uint8Array[] {
  const path = projectFixture(...parts);
  return existsSync(path) ? [new Uint8Array(readFileSync(path))] : [];
}

/** The trainer-state.json of a demo run stopped after 3 steps, as the trainer writes it. */
function demoTrainerState(): Uint8Array {
  const batcher = new PairBatcher(demoData().groups.slice(0, 30), { batchSize: 8, seed: 11 });
  for (let step = 0; step < 3; step++) batcher.next();
  return serializeTrainerState({
    version: 1, step: 3, epoch: 0, bestAccuracy: 0.625, batcher: batcher.state(),
    options: { maxlen: 32, batchSize: 8, epochs: 2, lr: 1e-4, weightDecay: 0.01, threshold: 0.8, seed: 11, shuffle: true, skipNonfinite: 0 },
    data: { train: 'demo/train.json', test: 'demo/test.txt', kind: 'demo' }, optimizerStep: 3, skippedSteps: 0, losses: { first: 9.25, recent: [8.5, 8.125, 7.75] },
  });
}

export const TARGETS: readonly FuzzTarget[] = [
  checkpointTarget('checkpoint-index', INDEX, true),
  checkpointTarget('checkpoint-data', DATA, false),
  {
    ...bytesTarget('bert-config', 'bert_config.json', ConfigError, () => [
    { origin: 'generated:bertConfigToJson of a tiny config', files: { 'bert_config.json': encoder.encode(`${JSON.stringify(bertConfigToJson(tinyConfig), null, 2)}\n`) } },
    ...sharedSeed('tf-ckpt-tiny-bert', 'bert_config.json', 'bert_config.json'),
    ...sharedSeed('google-chinese-bert-index', 'bert_config.json', 'bert_config.json'),
    ], (bytes, fileName) => bertParameterShapes(parseBertConfigBytes(bytes, fileName)).length),
    mutate: mutateJson,
  },
  bytesTarget('vocab', 'vocab.txt', VocabError, () => [
    { origin: 'generated:demo vocab.txt', files: { 'vocab.txt': encoder.encode(demoData().vocabTokens.slice(0, 300).map((token) => `${token}\n`).join('')) } },
    ...sharedSeed('vocab-zh', 'vocab.txt', 'vocab.txt', 1200),
    ...sharedSeed('tf-ckpt-tiny-bert', 'vocab.txt', 'vocab.txt'),
  ], (bytes, fileName) => parseVocab(bytes, fileName).vocab.tokens.length + parseVocab(bytes, fileName, { simplified: true }).vocab.tokens.length),
  {
    ...bytesTarget('train-json', 'train.json', DataError, () => [
    { origin: 'generated:demo train.json (object of groups)', files: { 'train.json': demoTrainJson(30) } },
    { origin: 'generated:demo groups as a JSON array', files: { 'train.json': encoder.encode(JSON.stringify(demoData().groups.slice(0, 20))) } },
    ], (bytes, fileName) => parseTrainGroups(bytes, fileName, demoTokenCounter()).totalTexts),
    mutate: mutateJson,
  },
  bytesTarget('train-jsonl', 'train.jsonl', DataError, () => [
    { origin: 'generated:demo groups as JSON Lines', files: { 'train.jsonl': encoder.encode(demoData().groups.slice(0, 30).map((group) => `${JSON.stringify(group)}\n`).join('')) } },
    ...sharedSeed('lcqmc-dev', 'groups.jsonl', 'train.jsonl', 60),
  ], (bytes, fileName) => parseTrainGroups(bytes, fileName, demoTokenCounter()).totalTexts),
  bytesTarget('test-tsv', 'test.txt', DataError, () => [
    { origin: 'generated:demo test.txt', files: { 'test.txt': demoTestTsv(60) } },
    ...sharedSeed('lcqmc-dev', 'dev.txt', 'test.txt', 80),
    ...sharedSeed('stsb-zh-dev', 'dev.txt', 'test.txt', 80),
    ...sharedSeed('pawsx-zh-dev', 'dev.tsv', 'test.txt', 40),
  ], (bytes, fileName) => parseTestPairs(bytes, fileName, demoTokenCounter()).pairs.length),
  bytesTarget('text-lines', 'texts.txt', DataError, () => [
    { origin: 'generated:demo texts, one per line', files: { 'texts.txt': encoder.encode(demoData().testPairs.slice(0, 60).map((pair) => `${pair.a}\n`).join('')) } },
  ], (bytes, fileName) => parseTextLines(bytes, fileName, demoTokenCounter()).length),
  {
    ...bytesTarget('safetensors', 'model.safetensors', FormatError, () => [
      { origin: 'generated:writeSafetensors of 3 tensors with metadata', files: { 'model.safetensors': writeSafetensors([
        { name: 'embeddings.word_embeddings.weight', shape: [5, 4], data: Float32Array.from({ length: 20 }, (_, i) => i / 7) },
        { name: 'pooler.dense.bias', shape: [4], data: Float32Array.from([1, -1, 0.5, 2]) },
        { name: 'scalar', shape: [], data: Float32Array.from([3]) },
      ], { format: 'pt' }) } },
      ...projectFile('interop', 'hf-safetensors', 'model.safetensors').map((bytes) => ({ origin: 'project:test/fixtures/interop/hf-safetensors/model.safetensors', files: { 'model.safetensors': bytes } })),
    ], (bytes, fileName) => readWeights(readSafetensors(bytes, fileName), (dtype) => ['F32', 'F16', 'BF16'].includes(dtype))),
    mutate: mutateSafetensors,
  },
  {
    ...bytesTarget('pytorch', 'pytorch_model.bin', FormatError, () => [
      ...projectFile('interop', 'hf-base', 'pytorch_model.bin').map((bytes) => ({ origin: 'project:test/fixtures/interop/hf-base/pytorch_model.bin (torch.save)', files: { 'pytorch_model.bin': bytes } })),
      ...projectFile('interop', 'legacy-pytorch_model.bin').map((bytes) => ({ origin: 'project:test/fixtures/interop/legacy-pytorch_model.bin', files: { 'pytorch_model.bin': bytes } })),
      ...projectFile('interop', 'evil-pytorch_model.bin').map((bytes) => ({ origin: 'project:test/fixtures/interop/evil-pytorch_model.bin', files: { 'pytorch_model.bin': bytes } })),
    ], (bytes, fileName) => readWeights(readPytorchStateDict(bytes, fileName), (dtype) => ['FloatStorage', 'HalfStorage', 'BFloat16Storage', 'DoubleStorage'].includes(dtype))),
    mutate: mutatePytorch,
  },
  {
    ...bytesTarget('trainer-state', 'trainer-state.json', Error, () => [
      { origin: 'generated:trainer-state.json of a 3-step demo run', files: { 'trainer-state.json': demoTrainerState() } },
    ], (bytes, fileName) => parseTrainerState(bytes, fileName).step),
    ownError: plainErrorNaming('trainer-state.json'),
    mutate: mutateJson,
  },
  {
    // A model folder's loader reads only the optimizer step of the same file.
    ...bytesTarget('optimizer-step', 'trainer-state.json', Error, () => [
      { origin: 'generated:trainer-state.json of a 3-step demo run', files: { 'trainer-state.json': demoTrainerState() } },
    ], optimizerStepOfState),
    ownError: plainErrorNaming('trainer-state.json'),
    mutate: mutateJson,
  },
  bytesTarget('npy', 'vectors.npy', NpyError, () => [
    { origin: 'generated:encodeNpyFloat32 [3, 4]', files: { 'vectors.npy': encodeNpyFloat32(Float32Array.from({ length: 12 }, (_, i) => i / 3), [3, 4]) } },
    { origin: 'generated:encodeNpyFloat32 [2, 0, 5]', files: { 'vectors.npy': encodeNpyFloat32(new Float32Array(0), [2, 0, 5]) } },
    { origin: 'generated:encodeNpyFloat32 []', files: { 'vectors.npy': encodeNpyFloat32(Float32Array.from([7]), []) } },
  ], (bytes, fileName) => readNpyFloat32(bytes, fileName).data.length),
];

export function findTarget(name: string): FuzzTarget {
  const target = TARGETS.find((candidate) => candidate.name === name);
  if (!target) throw new Error(`no fuzz target '${name}' (targets: ${TARGETS.map((candidate) => candidate.name).join(', ')})`);
  return target;
}
