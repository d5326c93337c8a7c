/**
 * Byte-level mutations of real input files: bit flips, byte sets, truncations, deleted and
 * duplicated ranges, huge length fields (a varint, u32, u64 or decimal number claiming 2^40
 * bytes), invalid UTF-8, and the characters text formats are built from. Every choice comes from
 * one SeededRandom, so a case is replayed by its seed alone.
 */
import { SeededRandom } from '../../src/model/random.js';

const TWO_POW_40 = 2 ** 40;

/** Varint, little-endian u32 / u64 and decimal spellings of lengths no file of ours justifies. */
const HUGE_LENGTHS: readonly Uint8Array[] = [
  Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x20]), // varint 2^40
  Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), // varint 2^64 - 1
  Uint8Array.from([0xff, 0xff, 0xff, 0xff]), // u32 2^32 - 1
  Uint8Array.from([0, 0, 0, 0, 0, 1, 0, 0]), // u64 2^40
  Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]), // u64 2^63 - 1
  new TextEncoder().encode(String(TWO_POW_40)),
  new TextEncoder().encode('99999999999999999999999'),
];

/** Byte sequences that are not UTF-8: a stray continuation, an overlong form, a cut sequence, a surrogate, a code point past U+10FFFF. */
const INVALID_UTF8: readonly Uint8Array[] = [
  Uint8Array.from([0xff]),
  Uint8Array.from([0x80]),
  Uint8Array.from([0xc0, 0x80]),
  Uint8Array.from([0xe4, 0xb8]),
  Uint8Array.from([0xed, 0xa0, 0x80]),
  Uint8Array.from([0xf4, 0x90, 0x80, 0x80]),
];

/** Pieces of JSON, TSV, Python-literal and vocabulary syntax, and numbers at the edges. */
const TEXT_TOKENS: readonly Uint8Array[] = [
  '\t', '\n', '\r\n', '\r', '"', '\'', '[', ']', '{', '}', ',', ':', '\\', '\\u', '\\ud800', '(', ')', '0', '1', '2', '-1', '0.5',
  '1e999', 'NaN', 'null', 'true', '\uFEFF', '\u2028', '[UNK]', '##', ' ', '5.0001', '-0', '1,',
].map((token) => new TextEncoder().encode(token));

/** Values that sit on boundaries of the formats: zero, all ones, sign bits, line and field separators. */
const INTERESTING_BYTES = [0x00, 0xff, 0x7f, 0x80, 0x01, 0x0a, 0x0d, 0x09, 0x20, 0x22, 0x2c, 0x5b, 0x5d, 0x7b, 0x7d, 0x5c, 0x27, 0x28, 0x29];

export type MutationName =
  | 'flip-bit' | 'set-byte' | 'truncate' | 'delete-range' | 'duplicate-range' | 'huge-length' | 'invalid-utf8' | 'text-token';

export const MUTATIONS: readonly MutationName[] = [
  'flip-bit', 'set-byte', 'truncate', 'delete-range', 'duplicate-range', 'huge-length', 'invalid-utf8', 'text-token',
];

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** A range length, mostly short: ranges of a few bytes break fields, long ones break structure. */
function rangeLength(random: SeededRandom, limit: number): number {
  if (limit <= 1) return limit;
  const cap = random.nextFloat() < 0.7 ? Math.min(limit, 16) : limit;
  return 1 + random.nextInt(cap);
}

/** Places `piece` at a random offset, over the bytes there or between them. */
function place(input: Uint8Array, piece: Uint8Array, random: SeededRandom): Uint8Array {
  const at = random.nextInt(input.length + 1);
  if (random.nextFloat() < 0.5 && at + piece.length <= input.length) {
    const out = Uint8Array.from(input);
    out.set(piece, at);
    return out;
  }
  return concat(input.subarray(0, at), piece, input.subarray(at));
}

/** One mutation of `input` (never in place). */
export function mutateOnce(input: Uint8Array, name: MutationName, random: SeededRandom): Uint8Array {
  const length = input.length;
  switch (name) {
    case 'flip-bit': {
      if (length === 0) return input;
      const out = Uint8Array.from(input);
      out[random.nextInt(length)] ^= 1 << random.nextInt(8);
      return out;
    }
    case 'set-byte': {
      if (length === 0) return input;
      const out = Uint8Array.from(input);
      out[random.nextInt(length)] = random.nextFloat() < 0.7 ? random.pick(INTERESTING_BYTES) : random.nextInt(256);
      return out;
    }
    case 'truncate':
      return input.slice(0, random.nextInt(length + 1));
    case 'delete-range': {
      if (length === 0) return input;
      const start = random.nextInt(length);
      const end = start + rangeLength(random, length - start);
      return concat(input.subarray(0, start), input.subarray(end));
    }
    case 'duplicate-range': {
      if (length === 0) return input;
      const start = random.nextInt(length);
      const range = input.subarray(start, start + rangeLength(random, length - start));
      const at = random.nextInt(length + 1);
      return concat(input.subarray(0, at), range, input.subarray(at));
    }
    case 'huge-length':
      return place(input, random.pick(HUGE_LENGTHS), random);
    case 'invalid-utf8':
      return place(input, random.pick(INVALID_UTF8), random);
    case 'text-token':
      return place(input, random.pick(TEXT_TOKENS), random);
  }
}

/** One to four stacked mutations; returns the bytes and the names applied, for the report. */
export function mutate(input: Uint8Array, random: SeededRandom): { bytes: Uint8Array; applied: MutationName[] } {
  const applied: MutationName[] = [];
  let bytes = input;
  const count = 1 + random.nextInt(4);
  for (let i = 0; i < count; i++) {
    const name = random.pick(MUTATIONS);
    bytes = mutateOnce(bytes, name, random);
    applied.push(name);
  }
  return { bytes, applied };
}

/** The generator of case `caseIndex` of reader `target` under run seed `seed`: each case replays on its own. */
export function caseRandom(seed: number, target: string, caseIndex: number): SeededRandom {
  let hash = 0xcbf29ce484222325n;
  for (const char of `${target}#${caseIndex}`) hash = BigInt.asUintN(64, (hash ^ BigInt(char.codePointAt(0) as number)) * 0x100000001b3n);
  return new SeededRandom(BigInt.asUintN(64, hash ^ (BigInt(seed) << 20n)));
}

/** JSON values at the edges of what readers accept: huge, negative, fractional, of another type. */
const JSON_REPLACEMENTS: readonly unknown[] = [
  TWO_POW_40, 2 ** 53, -1, 0, 0.5, 1e308, -1e-308, '', 'abc', '\u0000', null, true, [], {}, [1, 2, 3], { a: 1 }, '2', Array.from({ length: 64 }, () => 7),
];

/**
 * Replaces one to three values of a JSON document (at any depth) with edge values and writes it
 * back, so validation behind the JSON syntax gets fuzzed. Null when the bytes are not JSON.
 */
export function mutateJsonValues(bytes: Uint8Array, random: SeededRandom): { bytes: Uint8Array; mutations: string[] } | null {
  let document: unknown;
  try {
    document = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return null;
  }
  const mutations: string[] = [];
  for (let count = 1 + random.nextInt(3); count > 0; count--) {
    const path: (string | number)[] = [];
    let parent: unknown = null;
    let key: string | number | null = null;
    let node = document;
    // Walk down while there is somewhere to go, stopping at random.
    while (node !== null && typeof node === 'object' && random.nextFloat() < 0.8) {
      const keys: (string | number)[] = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node);
      if (keys.length === 0) break;
      parent = node;
      key = random.pick(keys);
      path.push(key);
      node = (node as Record<string | number, unknown>)[key];
    }
    const replacement = structuredClone(random.pick(JSON_REPLACEMENTS));
    if (parent === null || key === null) document = replacement;
    else (parent as Record<string | number, unknown>)[key] = replacement;
    mutations.push(`json ${path.join('.') || '(top)'} = ${JSON.stringify(replacement).slice(0, 20)}`);
  }
  return { bytes: new TextEncoder().encode(JSON.stringify(document)), mutations };
}
