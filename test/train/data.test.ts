import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTestPairs, loadTextLines, loadTrainGroups } from '../../src/node/data-files.js';
import { DataError, parseTestPairs, parseTrainGroups, type TokenCounter } from '../../src/train/data.js';
import { sharedFixture } from '../support/fixtures.js';

const scratch = mkdtempSync(join(tmpdir(), 'simbert-data-'));
let fileCounter = 0;

function writeFile(content: string | Uint8Array, extension = 'json'): string {
  const path = join(scratch, `case-${++fileCounter}.${extension}`);
  writeFileSync(path, content);
  return path;
}

/** Asserts that reading fails with a DataError naming the file, the location and the problem. */
function assertDataError(read: (path: string) => unknown, content: string | Uint8Array, location: RegExp, problem: RegExp, extension = 'json'): DataError {
  const path = writeFile(content, extension);
  try {
    read(path);
  } catch (error) {
    assert.instance(error, DataError);
    const dataError = error as DataError;
    assert.is(dataError.file, path);
    assert.match(dataError.location, location);
    assert.match(dataError.message, problem);
    assert.ok(dataError.message.startsWith(`${path}: ${dataError.location}: `), dataError.message);
    return dataError;
  }
  assert.unreachable(`reading ${JSON.stringify(content)} should have failed`);
  throw new Error('unreachable');
}

const readGroups = (path: string) => loadTrainGroups(path);
const readPairs = (path: string) => loadTestPairs(path);

// --- train groups: the three formats -------------------------------------------------------

test('the recipe object format keeps file order, also for integer-like keys', () => {
  const path = writeFile('{\n  "10": ["甲", "乙"],\n  "2": ["丙", "丁", "戊"],\n  "x": ["己", "庚"]\n}\n');
  const loaded = loadTrainGroups(path);
  assert.equal(loaded.groups, [['甲', '乙'], ['丙', '丁', '戊'], ['己', '庚']]);
  assert.is(loaded.format, 'object');
  assert.is(loaded.totalTexts, 7);
  assert.is(loaded.dropped, 0);
});

test('groups with fewer than 2 distinct texts are dropped and counted; repeats are kept once', () => {
  const path = writeFile('{"a": ["一"], "b": [], "c": ["二", "二"], "d": ["三", "四", "三"]}');
  const loaded = loadTrainGroups(path);
  assert.equal(loaded.groups, [['三', '四']]);
  assert.is(loaded.dropped, 3);
  assert.is(loaded.duplicateTexts, 2);
  assert.is(loaded.totalTexts, 2);
});

test('a duplicate key keeps its last value at the first place, as Python json does', () => {
  const loaded = loadTrainGroups(writeFile('{"a": ["1", "2"], "b": ["3", "4"], "a": ["5", "6"]}'));
  assert.equal(loaded.groups, [['5', '6'], ['3', '4']]);
});

test('a JSON array of groups', () => {
  const loaded = loadTrainGroups(writeFile('[\n  ["a", "b"],\n  ["c", "d", "e"]\n]'));
  assert.is(loaded.format, 'array');
  assert.equal(loaded.groups, [['a', 'b'], ['c', 'd', 'e']]);
});

test('JSON Lines with a BOM, CRLF, blank lines and escapes', () => {
  const loaded = loadTrainGroups(writeFile('\uFEFF["a", "b"]\r\n\r\n["c\\u4e00", "d\\n"]\r\n["e"]\r\n', 'jsonl'));
  assert.is(loaded.format, 'jsonl');
  assert.equal(loaded.groups, [['a', 'b'], ['c一', 'd\n']]);
  assert.is(loaded.dropped, 1);
});

test('a single line array of texts is a one-line JSON Lines file', () => {
  const loaded = loadTrainGroups(writeFile('["a", "b", "c"]\n', 'jsonl'));
  assert.is(loaded.format, 'jsonl');
  assert.equal(loaded.groups, [['a', 'b', 'c']]);
});

test('the token counter sees every text', () => {
  const seen: string[] = [];
  const counter: TokenCounter = (text) => {
    seen.push(text);
    return text.length;
  };
  loadTrainGroups(writeFile('{"k": ["你好", "您好"]}'), counter);
  assert.equal(seen, ['你好', '您好']);
});

// --- train groups: bad input ---------------------------------------------------------------

test('invalid JSON reports the line and column of the problem', () => {
  const error = assertDataError(readGroups, '{\n  "a": ["x", "y"],\n  "b": ["x" "y"]\n}\n', /^line 3, column 13$/, /invalid JSON: expected ',' or '\]' after an array element, found "\\""/);
  assert.is(error.line, 3);
});

test('a trailing comma in an object is invalid JSON at its line', () => {
  assertDataError(readGroups, '{\n"a": ["x", "y"],\n}', /^line 3, column 1$/, /expected a string key in double quotes, found "}"/);
});

test('a file that ends inside a group is invalid JSON at the end', () => {
  assertDataError(readGroups, '[["a", "b"],\n["c", ', /^line 2, column 7$/, /expected a JSON value, found the end of the file/);
});

test('an unterminated string reports the line break', () => {
  assertDataError(readGroups, '{"a": ["x\n", "y"]}', /^line 1, column 10$/, /no raw control characters or line breaks inside a string, found a line break/);
});

test('trailing content after a JSON object is invalid JSON', () => {
  assertDataError(readGroups, '{"a": ["x", "y"]}\nextra', /^line 2, column 1$/, /expected the end of the JSON document, found "e"/);
});

test('a JSON Lines syntax error names its line', () => {
  assertDataError(readGroups, '["a", "b"]\n["c", "d"]\n["e", ]\n', /^line 3, column 7$/, /invalid JSON: expected a JSON value, found "\]"/, 'jsonl');
});

test('a non-string text names the key and the text', () => {
  assertDataError(readGroups, '{\n"k1": ["a", "b"],\n"k2": ["a", 5]\n}', /^key "k2" \(line 3\), text 2$/, /expected a string, found number 5/);
});

test('a group that is not an array names its key', () => {
  assertDataError(readGroups, '{"k1": "abc"}', /^key "k1" \(line 1\)$/, /expected an array of texts, found the string "abc"/);
});

test('a group that is not an array names its place in a JSON array', () => {
  assertDataError(readGroups, '[["a", "b"],\n {"x": 1}]', /^group 2 \(line 2\)$/, /expected an array of texts, found an object/);
});

test('a JSON Lines line that is not an array names its line', () => {
  assertDataError(readGroups, '["a", "b"]\n{"x": ["c", "d"]}\n', /^line 2$/, /expected an array of texts, found an object/, 'jsonl');
});

test('a JSON Lines text that is not a string names the line and text', () => {
  assertDataError(readGroups, '["a", "b"]\n["c", null]\n', /^line 2, text 2$/, /expected a string, found null/, 'jsonl');
});

test('an empty file', () => {
  assertDataError(readGroups, '', /^file$/, /the file is empty/);
  assertDataError(readGroups, '\uFEFF \n\n', /^file$/, /the file is empty/);
});

test('a JSON scalar or an empty container is not a train file', () => {
  assertDataError(readGroups, '42', /^line 1$/, /expected a JSON object \{"key": \[texts\]\}, a JSON array of groups, or JSON Lines/);
  assertDataError(readGroups, '{}', /^file$/, /expected at least one group, found an empty JSON object/);
  assertDataError(readGroups, '[]', /^file$/, /expected at least one group, found an empty JSON array/);
});

test('no usable groups', () => {
  assertDataError(readGroups, '{"a": ["x"], "b": ["y", "y"]}', /^file$/, /no usable groups: all 2 groups have fewer than 2 distinct texts/);
});

test('a whitespace-only text is rejected, naming the key and the text', () => {
  assertDataError(readGroups, '{"q": ["好", "  "]}', /^key "q" \(line 1\), text 2$/, /text "  " is empty after tokenizing/);
});

test('a text the token counter finds empty is rejected, naming the line and the text', () => {
  const countNonPunctuation: TokenCounter = (text) => text.replace(/[。！？]/g, '').length;
  assertDataError((path) => loadTrainGroups(path, countNonPunctuation), '["好", "行"]\n["对", "。！"]\n', /^line 2, text 2$/, /text "。！" is empty after tokenizing/, 'jsonl');
});

test('a missing file is a DataError that names it', () => {
  const path = join(scratch, 'does-not-exist.json');
  assert.throws(() => loadTrainGroups(path), (error: unknown) => error instanceof DataError && error.message.startsWith(`${path}: file: cannot read it`));
});

// --- test pairs ----------------------------------------------------------------------------

test('binary pairs with a BOM, CRLF and empty lines at the end', () => {
  const path = writeFile('\uFEFF你好\t您好\t1\r\n天气\t价格\t0\r\n\r\n\n', 'txt');
  const loaded = loadTestPairs(path);
  assert.is(loaded.graded, false);
  assert.equal(loaded.pairs, [
    { a: '你好', b: '您好', label: 1 },
    { a: '天气', b: '价格', label: 0 },
  ]);
});

test('a label other than 0 or 1 makes the set graded; 1.0 and " 1 " count as 1', () => {
  const graded = loadTestPairs(writeFile('a\tb\t0\nc\td\t3.8\ne\tf\t5\n', 'txt'));
  assert.is(graded.graded, true);
  assert.equal(graded.pairs.map((pair) => pair.label), [0, 3.8, 5]);
  const binary = loadTestPairs(writeFile('a\tb\t1.0\nc\td\t 1 \ne\tf\t0\n', 'txt'));
  assert.is(binary.graded, false);
  assert.equal(binary.pairs.map((pair) => pair.label), [1, 1, 0]);
});

test('a demanded label kind: binary rejects scores, graded keeps 0/1 sets graded', () => {
  assertDataError((path) => loadTestPairs(path, undefined, 'binary'), 'a\tb\t1\nc\td\t2\n', /^line 2$/, /expected a binary label 0 or 1, found 2/, 'txt');
  assert.is(loadTestPairs(writeFile('a\tb\t1\nc\td\t0\n', 'txt'), undefined, 'graded').graded, true);
});

test('test file: a missing column names the line', () => {
  assertDataError(readPairs, 'a\tb\t1\nc\td\n', /^line 2$/, /expected 3 tab-separated columns text1<TAB>text2<TAB>label, found 2/, 'txt');
});

test('test file: an extra column names the line', () => {
  assertDataError(readPairs, 'a\tb\t1\tx\n', /^line 1$/, /expected 3 tab-separated columns text1<TAB>text2<TAB>label, found 4/, 'txt');
});

test('test file: a non-numeric or negative label names the line', () => {
  assertDataError(readPairs, 'a\tb\t1\nc\td\tyes\n', /^line 2$/, /expected a label 0 or 1, or a score from 0 to 5, found "yes"/, 'txt');
  assertDataError(readPairs, 'a\tb\t-1\n', /^line 1$/, /found "-1"/, 'txt');
  assertDataError(readPairs, 'a\tb\t\n', /^line 1$/, /found ""/, 'txt');
});

test('test file: a graded label above 5 names its line and why the set is graded', () => {
  assertDataError(readPairs, 'a\tb\t1\nc\td\t2.5\ne\tf\t7\n', /^line 3$/, /expected a score from 0 to 5, found 7 \(the set is graded because line 2 has the label 2.5\)/, 'txt');
});

test('test file: empty', () => {
  assertDataError(readPairs, '', /^file$/, /the file is empty; expected lines text1<TAB>text2<TAB>label/, 'txt');
  assertDataError(readPairs, '\r\n\n', /^file$/, /the file is empty/, 'txt');
});

test('test file: an empty line before the end names the line', () => {
  assertDataError(readPairs, 'a\tb\t1\n\nc\td\t0\n', /^line 2$/, /empty line; expected text1<TAB>text2<TAB>label/, 'txt');
});

test('test file: an empty text names the line and column', () => {
  assertDataError(readPairs, 'a\tb\t1\n\tb\t0\n', /^line 2, text1$/, /text "" is empty after tokenizing/, 'txt');
  assertDataError(readPairs, 'a\t \t1\n', /^line 1, text2$/, /text " " is empty after tokenizing/, 'txt');
});

test('test file: a text the token counter finds empty names the line', () => {
  const countLetters: TokenCounter = (text) => text.replace(/[^a-z]/g, '').length;
  assertDataError((path) => loadTestPairs(path, countLetters), 'ab\tcd\t1\nef\t%%\t0\n', /^line 2, text2$/, /text "%%" is empty after tokenizing/, 'txt');
});

test('test file: one stray integer label among 0/1 labels is an error naming its line, not a graded set', () => {
  const binaryLines = Array.from({ length: 40 }, (_, i) => `问${i}\t答${i}\t${i % 2}\n`);
  const stray = [...binaryLines.slice(0, 17), '问\t答\t2\n', ...binaryLines.slice(17)].join('');
  assertDataError(readPairs, stray, /^line 18$/, /label 2 in a set whose other labels are 0 or 1 \(1 of 41 labels are not\); fix the label, or, if the set is graded, say so \(eval --labels graded\)/, 'txt');
  assertDataError(readPairs, 'a\tb\t0\nc\td\t1\ne\tf\t2\n', /^line 3$/, /label 2 in a set whose other labels are 0 or 1/, 'txt');
  const twoOf41 = [...binaryLines.slice(0, 39), 'x\ty\t3\n', 'x\ty\t2\n'].join('');
  assertDataError(readPairs, twoOf41, /^line 40$/, /label 3 .*\(2 of 41 labels are not\)/, 'txt');
  const demanded = loadTestPairs(writeFile(stray, 'txt'), undefined, 'graded');
  assert.is(demanded.graded, true);
});

test('test file: integer scores that are common, or any fractional score, make the set graded', () => {
  assert.is(loadTestPairs(writeFile('a\tb\t0\nc\td\t1\ne\tf\t2\ng\th\t4\n', 'txt')).graded, true);
  assert.is(loadTestPairs(writeFile('a\tb\t0\nc\td\t1\ne\tf\t0.5\n', 'txt')).graded, true);
  assert.is(loadTestPairs(writeFile('a\tb\t4\n', 'txt')).graded, true);
});

const invalidUtf8 = (before: string, after: string): Uint8Array => {
  const encoder = new TextEncoder();
  return Uint8Array.from([...encoder.encode(before), 0xe4, 0xb8, ...encoder.encode(after)]);
};

test('invalid UTF-8 in a test file is an error naming its line, not dropped', () => {
  assertDataError(readPairs, invalidUtf8('你好\t您好\t1\n天气', '\t价格\t0\n'), /^line 2$/, /not valid UTF-8 text/, 'txt');
});

test('invalid UTF-8 in a train file (JSON, JSON Lines) is an error naming its line', () => {
  assertDataError(readGroups, invalidUtf8('{\n  "a": ["好', '", "行"]\n}\n'), /^line 2$/, /not valid UTF-8 text/);
  assertDataError(readGroups, invalidUtf8('["好", "行"]\n["对", "是', '"]\n'), /^line 2$/, /not valid UTF-8 text/, 'jsonl');
  assertDataError((path) => loadTextLines(path, (text) => text.length), Uint8Array.from([0x61, 0x0a, 0xff, 0x0a]), /^line 2$/, /not valid UTF-8 text/, 'txt');
});

test('JSON nested deeper than 64 levels is an error, not a stack overflow', () => {
  const deep = `{"a": ${'['.repeat(100000)}${']'.repeat(100000)}}`;
  assertDataError(readGroups, deep, /^line 1, column 70$/, /at most 64 levels of nested arrays and objects/);
  const shallow = `{"a": [${'['.repeat(60)}${']'.repeat(60)}, "x"]}`;
  assertDataError(readGroups, shallow, /^key "a" \(line 1\), text 1$/, /expected a string, found an array/);
});

test('the bytes-level readers name the file they are given', () => {
  const bytes = new TextEncoder().encode('["好", "行"]\n');
  assert.equal(parseTrainGroups(bytes, 'mem.jsonl').groups, [['好', '行']]);
  assert.throws(() => parseTestPairs(new Uint8Array(0), 'mem.tsv'), (error: unknown) => error instanceof DataError && error.message.startsWith('mem.tsv: file: '));
});

// --- shared fixtures -----------------------------------------------------------------------

const lcqmc = sharedFixture('lcqmc-dev');
const stsb = sharedFixture('stsb-zh-dev');

(lcqmc ? test : test.skip)('LCQMC dev groups.jsonl loads as JSON Lines: 932 groups, 3062 texts', () => {
  const loaded = loadTrainGroups(join(lcqmc as string, 'groups.jsonl'));
  assert.is(loaded.format, 'jsonl');
  assert.is(loaded.groups.length, 932);
  assert.is(loaded.totalTexts, 3062);
  assert.is(loaded.dropped, 0);
});

(lcqmc ? test : test.skip)('LCQMC dev.txt loads as 8802 binary pairs, 4402 positive', () => {
  const loaded = loadTestPairs(join(lcqmc as string, 'dev.txt'));
  assert.is(loaded.graded, false);
  assert.is(loaded.pairs.length, 8802);
  assert.is(loaded.pairs.filter((pair) => pair.label === 1).length, 4402);
});

(stsb ? test : test.skip)('Chinese STS-B dev.txt loads as 1458 graded pairs', () => {
  const loaded = loadTestPairs(join(stsb as string, 'dev.txt'));
  assert.is(loaded.graded, true);
  assert.is(loaded.pairs.length, 1458);
  assert.is(loaded.pairs.filter((pair) => pair.label === 5).length, 52);
});

test.run();
