/**
 * Reading the training groups and the test pairs, with errors that name the file, the line or
 * key, and what was expected.
 *
 * Train file, one of (detected from the content):
 * - the recipe's JSON object `{"key": ["text", ...], ...}`, groups in file order;
 * - a JSON array of groups `[["text", ...], ...]`;
 * - JSON Lines, one array of texts per line (blank lines are skipped).
 * Within a group, repeated texts are kept once; a group left with fewer than 2 texts is dropped
 * and counted. A duplicate key keeps its last value at the place of its first occurrence, as
 * Python's json module does.
 *
 * Test file: `text1<TAB>text2<TAB>label` per line, no header, LF or CRLF, optional UTF-8 BOM;
 * empty lines are allowed only at the end. Labels are decimal numbers. When every label is 0 or 1
 * the set is binary. It is graded (an STS-B style score, every label in [0, 5]) when a label is
 * fractional, or when labels other than 0 and 1 are no stray few: all of them, or at least 2
 * and at least 5% of the pairs (Chinese STS-B, scored 0..5 in integers, has 60%). A few integer
 * labels such as `2` among 0/1 labels are a mistake, reported with their line, never silently
 * scored as grades.
 * A caller can demand one kind instead of detecting it.
 *
 * Every file must be valid UTF-8; invalid bytes are an error naming the line, never dropped.
 */
import type { Tokenizer } from '../model/tokenizer.js';

/** Number of word pieces of a text, without [CLS] and [SEP]. */
export type TokenCounter = (text: string) => number;

/** A problem with an input file; the message reads `file: location: problem`. */
export class DataError extends Error {
  override readonly name = 'DataError';
  constructor(
    readonly file: string,
    /** Where in the file: `line 3`, `line 3, column 14`, `key "q17" (line 9)`, or `file`. */
    readonly location: string,
    readonly problem: string,
    /** The 1-based line, when one is known. */
    readonly line?: number,
  ) {
    super(`${file}: ${location}: ${problem}`);
  }
}

export type TrainFileFormat = 'object' | 'array' | 'jsonl';

export interface TrainGroups {
  /** Groups of at least 2 distinct texts, in file order. */
  groups: string[][];
  /** Groups dropped for having fewer than 2 distinct texts. */
  dropped: number;
  /** Texts in the kept groups (the recipe's `sum(len(group))`). */
  totalTexts: number;
  /** Repeated texts removed from within groups. */
  duplicateTexts: number;
  format: TrainFileFormat;
}

export interface TestPair {
  a: string;
  b: string;
  /** 0 or 1 for a binary set; a score in [0, 5] for a graded set. */
  label: number;
}

export interface TestPairs {
  pairs: TestPair[];
  graded: boolean;
}

export type LabelKind = 'auto' | 'binary' | 'graded';

export const GRADED_LABEL_MAX = 5;

/**
 * The text of a UTF-8 file without its BOM. Invalid UTF-8 is a DataError naming the first line
 * that holds it: a line feed byte never occurs inside a multi-byte sequence, so the whole is
 * valid exactly when every line is.
 */
export function decodeUtf8Text(bytes: Uint8Array, file: string): string {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    let line = 1;
    for (let start = 0; start < bytes.length; line++) {
      let end = bytes.indexOf(0x0a, start);
      if (end < 0) end = bytes.length;
      try {
        decoder.decode(bytes.subarray(start, end));
      } catch {
        break;
      }
      start = end + 1;
    }
    throw new DataError(file, `line ${line}`, 'not valid UTF-8 text', line);
  }
  return text.startsWith('\uFEFF') ? text.slice(1) : text;
}

/** Converts offsets to 1-based line and column numbers; built once per file. */
class LineIndex {
  private readonly lineStarts: number[] = [0];

  constructor(text: string) {
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) this.lineStarts.push(i + 1);
  }

  locate(offset: number): { line: number; column: number } {
    let low = 0;
    let high = this.lineStarts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if ((this.lineStarts[middle] as number) <= offset) low = middle;
      else high = middle - 1;
    }
    return { line: low + 1, column: offset - (this.lineStarts[low] as number) + 1 };
  }
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  return `${typeof value} ${String(value)}`;
}

function quoteForMessage(text: string): string {
  const shown = text.length > 60 ? `${text.slice(0, 60)}…` : text;
  return JSON.stringify(shown);
}

// ---------------------------------------------------------------------------------------------
// A JSON syntax scanner. JSON.parse in Node 20 often reports no position ("Unexpected token"),
// and its objects reorder integer-like keys, so the train reader validates the text itself and
// records where each top-level member lies; the members' values are then parsed by JSON.parse.

interface Span {
  start: number;
  end: number;
}

interface TopLevelMember {
  key?: Span;
  value: Span;
}

class JsonSyntaxError extends Error {
  constructor(
    readonly offset: number,
    readonly expected: string,
  ) {
    super(`expected ${expected}`);
  }
}

interface ScannedDocument {
  kind: 'object' | 'array' | 'scalar';
  members: TopLevelMember[];
}

/** Deeper JSON than a file of groups needs; the limit keeps the recursive scanner off the stack's end. */
const MAX_JSON_DEPTH = 64;
const NUMBER_PATTERN = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
/** A run of string characters that need no checking: no quote, backslash or control character. */
const PLAIN_STRING_RUN = /[^"\\\u0000-\u001f]*/y;
const ESCAPABLE = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);

class JsonScanner {
  private position = 0;
  private depth = 0;
  private readonly end: number;

  constructor(private readonly text: string) {
    this.end = text.length;
  }

  /** Validates one whole JSON document and returns its top-level members. */
  scanDocument(): ScannedDocument {
    this.skipWhitespace();
    const first = this.text[this.position];
    const members: TopLevelMember[] = [];
    const kind = first === '{' ? 'object' : first === '[' ? 'array' : 'scalar';
    this.scanValue((member) => members.push(member));
    this.skipWhitespace();
    if (this.position < this.end) this.fail('the end of the JSON document');
    return { kind, members };
  }

  /** The offset just after the first value, or a syntax error inside it. */
  scanFirstValue(): number {
    this.skipWhitespace();
    this.scanValue();
    return this.position;
  }

  private fail(expected: string): never {
    throw new JsonSyntaxError(this.position, expected);
  }

  private skipWhitespace(): void {
    while (this.position < this.end) {
      const c = this.text.charCodeAt(this.position);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return;
      this.position++;
    }
  }

  private scanValue(onTopLevelMember?: (member: TopLevelMember) => void): void {
    if (this.position >= this.end) this.fail('a JSON value');
    const c = this.text[this.position];
    if (c === '{' || c === '[') {
      if (this.depth === MAX_JSON_DEPTH) this.fail(`at most ${MAX_JSON_DEPTH} levels of nested arrays and objects`);
      this.depth++;
      if (c === '{') this.scanObject(onTopLevelMember);
      else this.scanArray(onTopLevelMember);
      this.depth--;
    } else if (c === '"') this.scanString();
    else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) this.scanNumber();
    else if (this.text.startsWith('true', this.position)) this.position += 4;
    else if (this.text.startsWith('false', this.position)) this.position += 5;
    else if (this.text.startsWith('null', this.position)) this.position += 4;
    else this.fail('a JSON value');
  }

  private scanObject(onMember?: (member: TopLevelMember) => void): void {
    this.position++;
    this.skipWhitespace();
    if (this.text[this.position] === '}') {
      this.position++;
      return;
    }
    for (;;) {
      this.skipWhitespace();
      if (this.position >= this.end || this.text[this.position] !== '"') this.fail('a string key in double quotes');
      const keyStart = this.position;
      this.scanString();
      const key = { start: keyStart, end: this.position };
      this.skipWhitespace();
      if (this.text[this.position] !== ':') this.fail("':' after the key");
      this.position++;
      this.skipWhitespace();
      const valueStart = this.position;
      this.scanValue();
      onMember?.({ key, value: { start: valueStart, end: this.position } });
      this.skipWhitespace();
      const next = this.text[this.position];
      this.position++;
      if (next === '}') return;
      if (next !== ',') {
        this.position--;
        this.fail("',' or '}' after an object member");
      }
    }
  }

  private scanArray(onMember?: (member: TopLevelMember) => void): void {
    this.position++;
    this.skipWhitespace();
    if (this.text[this.position] === ']') {
      this.position++;
      return;
    }
    for (;;) {
      this.skipWhitespace();
      const valueStart = this.position;
      this.scanValue();
      onMember?.({ value: { start: valueStart, end: this.position } });
      this.skipWhitespace();
      const next = this.text[this.position];
      this.position++;
      if (next === ']') return;
      if (next !== ',') {
        this.position--;
        this.fail("',' or ']' after an array element");
      }
    }
  }

  private scanString(): void {
    this.position++;
    while (this.position < this.end) {
      PLAIN_STRING_RUN.lastIndex = this.position;
      PLAIN_STRING_RUN.test(this.text);
      this.position = Math.min(PLAIN_STRING_RUN.lastIndex, this.end);
      if (this.position >= this.end) break;
      const c = this.text[this.position] as string;
      if (c === '"') {
        this.position++;
        return;
      }
      if (c === '\\') {
        const escaped = this.text[this.position + 1];
        if (escaped === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(this.text.slice(this.position + 2, this.position + 6))) {
            this.position++;
            this.fail('four hex digits after \\u');
          }
          this.position += 6;
        } else if (escaped !== undefined && ESCAPABLE.has(escaped)) {
          this.position += 2;
        } else {
          this.position++;
          this.fail('a valid escape (\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)');
        }
        continue;
      }
      if (c.charCodeAt(0) < 0x20) this.fail('no raw control characters or line breaks inside a string');
      this.position++;
    }
    this.fail('a closing double quote');
  }

  private scanNumber(): void {
    NUMBER_PATTERN.lastIndex = this.position;
    const match = NUMBER_PATTERN.exec(this.text);
    if (match === null || this.position + match[0].length > this.end) this.fail('a number');
    this.position += match[0].length;
  }
}

function syntaxError(file: string, text: string, error: JsonSyntaxError, lineOffset = 0): DataError {
  const { line, column } = new LineIndex(text).locate(error.offset);
  const found =
    error.offset >= text.length
      ? 'the end of the file'
      : text[error.offset] === '\n' || text[error.offset] === '\r'
        ? 'a line break'
        : JSON.stringify(String.fromCodePoint(text.codePointAt(error.offset) as number));
  return new DataError(
    file,
    `line ${line + lineOffset}, column ${column}`,
    `invalid JSON: expected ${error.expected}, found ${found}`,
    line + lineOffset,
  );
}

// ---------------------------------------------------------------------------------------------
// Train groups

interface RawGroup {
  /** Where the group is, for messages: `key "x" (line 3)` or `line 3` or `group 2 (line 3)`. */
  location: string;
  line: number;
  value: unknown;
}

function rawGroupsFromDocument(file: string, text: string, document: ScannedDocument): RawGroup[] {
  const groups: RawGroup[] = [];
  const lines = new LineIndex(text);
  if (document.kind === 'object') {
    const indexByKey = new Map<string, number>();
    for (const member of document.members) {
      const keySpan = member.key as Span;
      const key = JSON.parse(text.slice(keySpan.start, keySpan.end)) as string;
      const line = lines.locate(keySpan.start).line;
      const group = { location: `key ${quoteForMessage(key)} (line ${line})`, line, value: JSON.parse(text.slice(member.value.start, member.value.end)) as unknown };
      const earlier = indexByKey.get(key);
      if (earlier === undefined) {
        indexByKey.set(key, groups.length);
        groups.push(group);
      } else {
        groups[earlier] = group;
      }
    }
  } else {
    document.members.forEach((member, index) => {
      const line = lines.locate(member.value.start).line;
      groups.push({ location: `group ${index + 1} (line ${line})`, line, value: JSON.parse(text.slice(member.value.start, member.value.end)) as unknown });
    });
  }
  if (groups.length === 0) {
    throw new DataError(file, 'file', `expected at least one group, found an empty JSON ${document.kind}`);
  }
  return groups;
}

function rawGroupsFromJsonLines(file: string, text: string): RawGroup[] {
  const groups: RawGroup[] = [];
  const lines = text.split('\n');
  lines.forEach((rawLine, index) => {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      // Only the scanner says where the problem is.
      try {
        new JsonScanner(line).scanDocument();
      } catch (error) {
        if (error instanceof JsonSyntaxError) throw syntaxError(file, line, error, index);
        throw error;
      }
      throw new DataError(file, `line ${index + 1}`, 'invalid JSON', index + 1);
    }
    groups.push({ location: `line ${index + 1}`, line: index + 1, value });
  });
  return groups;
}

/** Which of the three train formats the text is in, and its groups before validation. */
function readRawGroups(file: string, text: string): { format: TrainFileFormat; rawGroups: RawGroup[] } {
  if (text.trim() === '') throw new DataError(file, 'file', 'the file is empty; expected JSON groups of texts');
  try {
    const document = new JsonScanner(text).scanDocument();
    if (document.kind === 'scalar') {
      throw new DataError(file, 'line 1', 'expected a JSON object {"key": [texts]}, a JSON array of groups, or JSON Lines with one array of texts per line', 1);
    }
    // A lone array of strings is a one-line JSON Lines file, not an array of groups.
    const first = document.members[0];
    if (document.kind === 'array' && first !== undefined && text[first.value.start] === '"') {
      return { format: 'jsonl', rawGroups: rawGroupsFromJsonLines(file, text) };
    }
    return { format: document.kind, rawGroups: rawGroupsFromDocument(file, text, document) };
  } catch (error) {
    if (!(error instanceof JsonSyntaxError)) throw error;
    // JSON Lines: the first value is a complete array that ends before a line break, and the
    // document only fails because more content follows.
    let firstValueEnd: number;
    try {
      firstValueEnd = new JsonScanner(text).scanFirstValue();
    } catch {
      throw syntaxError(file, text, error);
    }
    const firstNonSpace = text.search(/\S/);
    const followedByNewLine = /^[ \t\r]*\n/.test(text.slice(firstValueEnd));
    if (text[firstNonSpace] === '[' && followedByNewLine && error.offset > firstValueEnd) {
      return { format: 'jsonl', rawGroups: rawGroupsFromJsonLines(file, text) };
    }
    throw syntaxError(file, text, error);
  }
}

function checkText(file: string, location: string, line: number, text: string, tokenCounter?: TokenCounter): void {
  const empty = text.trim() === '' || (tokenCounter !== undefined && tokenCounter(text) === 0);
  if (empty) {
    throw new DataError(file, location, `text ${quoteForMessage(text)} is empty after tokenizing; every text needs at least one word piece`, line);
  }
}

/**
 * Parses the bytes of a train file of paraphrase groups (see the module comment for the
 * formats); `path` names it in errors. `tokenCounter`, when given, rejects texts that tokenize
 * to nothing.
 */
export function parseTrainGroups(bytes: Uint8Array, path: string, tokenCounter?: TokenCounter): TrainGroups {
  const text = decodeUtf8Text(bytes, path);
  const { format, rawGroups } = readRawGroups(path, text);
  const groups: string[][] = [];
  let dropped = 0;
  let duplicateTexts = 0;
  for (const raw of rawGroups) {
    if (!Array.isArray(raw.value)) {
      throw new DataError(path, raw.location, `expected an array of texts, found ${describeValue(raw.value)}`, raw.line);
    }
    const distinct = new Set<string>();
    raw.value.forEach((item: unknown, index: number) => {
      const where = `${raw.location}, text ${index + 1}`;
      if (typeof item !== 'string') {
        throw new DataError(path, where, `expected a string, found ${describeValue(item)}`, raw.line);
      }
      checkText(path, where, raw.line, item, tokenCounter);
      if (distinct.has(item)) duplicateTexts++;
      distinct.add(item);
    });
    if (distinct.size < 2) dropped++;
    else groups.push([...distinct]);
  }
  if (groups.length === 0) {
    throw new DataError(path, 'file', `no usable groups: all ${rawGroups.length} groups have fewer than 2 distinct texts`);
  }
  const totalTexts = groups.reduce((sum, group) => sum + group.length, 0);
  return { groups, dropped, totalTexts, duplicateTexts, format };
}

// ---------------------------------------------------------------------------------------------
// Test pairs

const LABEL_PATTERN = /^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$/;

/** Labels other than 0 and 1 below this share of the pairs are strays in a binary set (see the module comment). */
const GRADED_MIN_SHARE = 0.05;

/**
 * Parses the bytes of a file of `text1<TAB>text2<TAB>label` lines (`path` names it in errors).
 * With `labelKind` 'auto' the kind is detected as the module comment says; 'binary' and
 * 'graded' demand that kind.
 */
export function parseTestPairs(bytes: Uint8Array, path: string, tokenCounter?: TokenCounter, labelKind: LabelKind = 'auto'): TestPairs {
  const text = decodeUtf8Text(bytes, path);
  const lines = text.split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  while (lines.length > 0 && (lines[lines.length - 1] as string).trim() === '') lines.pop();
  if (lines.length === 0) throw new DataError(path, 'file', 'the file is empty; expected lines text1<TAB>text2<TAB>label');

  const pairs: TestPair[] = [];
  const lineOfPair: number[] = [];
  lines.forEach((content, index) => {
    const lineNumber = index + 1;
    const where = `line ${lineNumber}`;
    if (content.trim() === '') {
      throw new DataError(path, where, 'empty line; expected text1<TAB>text2<TAB>label (empty lines are allowed only at the end)', lineNumber);
    }
    const columns = content.split('\t');
    if (columns.length !== 3) {
      throw new DataError(path, where, `expected 3 tab-separated columns text1<TAB>text2<TAB>label, found ${columns.length}`, lineNumber);
    }
    const [a, b, labelText] = columns as [string, string, string];
    checkText(path, `${where}, text1`, lineNumber, a, tokenCounter);
    checkText(path, `${where}, text2`, lineNumber, b, tokenCounter);
    const label = labelText.trim();
    if (!LABEL_PATTERN.test(label)) {
      throw new DataError(path, where, `expected a label 0 or 1, or a score from 0 to ${GRADED_LABEL_MAX}, found ${quoteForMessage(labelText)}`, lineNumber);
    }
    pairs.push({ a, b, label: Number(label) });
    lineOfPair.push(lineNumber);
  });

  const nonBinary = pairs.flatMap((pair, index) => (pair.label !== 0 && pair.label !== 1 ? [index] : []));
  const firstNonBinary = nonBinary[0] ?? -1;
  if (labelKind === 'binary' && firstNonBinary >= 0) {
    const line = lineOfPair[firstNonBinary] as number;
    throw new DataError(path, `line ${line}`, `expected a binary label 0 or 1, found ${(pairs[firstNonBinary] as TestPair).label}`, line);
  }
  if (labelKind === 'auto' && firstNonBinary >= 0) {
    const fractional = nonBinary.some((index) => !Number.isInteger((pairs[index] as TestPair).label));
    const common = nonBinary.length === pairs.length || (nonBinary.length >= 2 && nonBinary.length >= GRADED_MIN_SHARE * pairs.length);
    if (!fractional && !common) {
      const line = lineOfPair[firstNonBinary] as number;
      throw new DataError(
        path,
        `line ${line}`,
        `label ${(pairs[firstNonBinary] as TestPair).label} in a set whose other labels are 0 or 1 ` +
          `(${nonBinary.length} of ${pairs.length} labels are not); fix the label, or, if the set is graded, say so (eval --labels graded)`,
        line,
      );
    }
  }
  const graded = labelKind === 'graded' || (labelKind === 'auto' && firstNonBinary >= 0);
  if (graded) {
    const outside = pairs.findIndex((pair) => pair.label > GRADED_LABEL_MAX);
    if (outside >= 0) {
      const line = lineOfPair[outside] as number;
      const evidence = labelKind === 'auto' ? ` (the set is graded because line ${lineOfPair[firstNonBinary]} has the label ${(pairs[firstNonBinary] as TestPair).label})` : '';
      throw new DataError(path, `line ${line}`, `expected a score from 0 to ${GRADED_LABEL_MAX}, found ${(pairs[outside] as TestPair).label}${evidence}`, line);
    }
  }
  return { pairs, graded };
}

/** Word pieces of a text without [CLS] and [SEP]: 0 means the text is empty to the model. */
export function wordPieceCounter(tokenizer: Tokenizer): TokenCounter {
  return (text) => tokenizer.tokenize(text).length - 2;
}

/**
 * Parses the bytes of a file of one text per line (`path` names it in errors): UTF-8 (invalid
 * bytes are an error naming the line), a leading BOM stripped, LF or CRLF, empty lines allowed
 * only at the end. A line that is empty, or empty after tokenizing, is a DataError naming the
 * file and line.
 */
export function parseTextLines(bytes: Uint8Array, path: string, countTokens: TokenCounter): string[] {
  const lines = decodeUtf8Text(bytes, path).split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  while (lines.length > 0 && (lines[lines.length - 1] as string).trim() === '') lines.pop();
  if (lines.length === 0) throw new DataError(path, 'file', 'the file is empty; expected one text per line');
  lines.forEach((text, index) => {
    const where = `line ${index + 1}`;
    if (text.trim() === '') {
      throw new DataError(path, where, 'empty line; expected one text per line (empty lines are allowed only at the end)', index + 1);
    }
    if (countTokens(text) === 0) {
      throw new DataError(path, where, `text ${JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text)} is empty after tokenizing; every text needs at least one word piece`, index + 1);
    }
  });
  return lines;
}
