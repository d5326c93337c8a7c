import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildVocab, parseVocab, VocabError, vocabTokensFromText } from '../../src/model/vocab.js';
import { loadVocab, readVocabFile, writeVocabFile } from '../../src/node/vocab-file.js';
import { sharedFixture } from '../support/fixtures.js';

const scratch = mkdtempSync(join(tmpdir(), 'simbert-vocab-'));
let scratchFiles = 0;
function scratchFile(contents: string | Uint8Array): string {
  const path = join(scratch, `vocab-${scratchFiles++}.txt`);
  writeFileSync(path, contents);
  return path;
}

const zhDir = sharedFixture('vocab-zh');
const zhTest = zhDir === null ? test.skip : test;
const zhPath = zhDir === null ? '' : join(zhDir, 'vocab.txt');

zhTest('Chinese vocab: 21128 ids, special tokens where Google put them', () => {
  const { vocab, keepTokens } = loadVocab(zhPath);
  assert.is(keepTokens, null);
  assert.is(vocab.tokens.length, 21128);
  assert.is(vocab.ids.size, 21128);
  assert.is(vocab.ids.get('[PAD]'), 0);
  assert.is(vocab.ids.get('[unused99]'), 99);
  assert.is(vocab.ids.get('[UNK]'), 100);
  assert.is(vocab.ids.get('[CLS]'), 101);
  assert.is(vocab.ids.get('[SEP]'), 102);
  assert.is(vocab.ids.get('[MASK]'), 103);
  assert.is(vocab.tokens[101], '[CLS]');
  assert.is(vocab.tokens[21127], '##😎');
});

zhTest('Chinese vocab: the lone U+2028 on line 343 is the token "" and later ids do not shift', () => {
  const { vocab } = loadVocab(zhPath);
  assert.is(vocab.tokens[342], '\u2027');
  assert.is(vocab.tokens[343], '');
  assert.is(vocab.ids.get(''), 343);
  assert.is(vocab.tokens[344], '\u2030');
  assert.is(vocab.ids.get('\u2030'), 344);
  // Line 13502 is '##' followed by U+2028, so its token is '##'.
  assert.is(vocab.tokens[13502], '##');
  assert.is(vocab.ids.get('##'), 13502);
  assert.is(vocab.tokens[13503], '##\u2030');
  // Every other line holds exactly its token.
  const lines = readFileSync(zhPath, 'utf8').split('\n').slice(0, -1);
  assert.is(lines.length, vocab.tokens.length);
  const differing = lines.flatMap((line, id) => (line === vocab.tokens[id] ? [] : [id]));
  assert.equal(differing, [343, 13502]);
});

zhTest('Chinese vocab simplified: 13584 tokens, the four specials first, original order after', () => {
  const { vocab, keepTokens } = loadVocab(zhPath, { simplified: true });
  assert.ok(keepTokens);
  assert.is(vocab.tokens.length, 13584);
  assert.is(vocab.ids.size, 13584);
  assert.is(keepTokens.length, 13584);
  assert.equal(vocab.tokens.slice(0, 4), ['[PAD]', '[UNK]', '[CLS]', '[SEP]']);
  assert.equal(keepTokens.slice(0, 6), [0, 100, 101, 102, 106, 107]); // [MASK], <S>, <T> hold punctuation
  assert.equal(vocab.tokens.slice(4, 6), ['!', '"']);
  for (let id = 5; id < keepTokens.length; id++) {
    if (keepTokens[id] <= keepTokens[id - 1]) assert.unreachable(`keepTokens not increasing at ${id}`);
  }
  const original = loadVocab(zhPath).vocab;
  vocab.tokens.forEach((token, id) => {
    if (original.tokens[keepTokens[id]] !== token) assert.unreachable(`token ${id} '${token}' is not original token ${keepTokens[id]}`);
  });
});

zhTest('Chinese vocab simplified: which tokens go and which stay', () => {
  const { vocab, keepTokens } = loadVocab(zhPath, { simplified: true });
  for (const dropped of ['[MASK]', '[unused1]', '<S>', '##口', '##中', '##，', '##.']) {
    assert.not.ok(vocab.ids.has(dropped), `${dropped} should be dropped`);
  }
  for (const kept of ['##', '口', '，', '。', '.', 'ab', 'ing', '##ing', '##ｐ', 'iphone', 'xx', '##😎']) {
    assert.ok(vocab.ids.has(kept), `${kept} should be kept`);
  }
  assert.ok(vocab.ids.has(''));
  assert.is(keepTokens![vocab.ids.get('')!], 343);
});

test('lines end at \\n, \\r\\n or a lone \\r (Python universal newlines); a final line needs no newline', () => {
  assert.equal(vocabTokensFromText('a\nb\r\nc\rd'), ['a', 'b', 'c', 'd']);
  assert.equal(vocabTokensFromText('a\n\nb\n'), ['a', '', 'b']);
  assert.equal(vocabTokensFromText('a\n\n'), ['a', '']);
  assert.equal(vocabTokensFromText(''), []);
  assert.equal(vocabTokensFromText('\n'), ['']);
});

test('a token is the first field split on Python whitespace, or "" for a blank line', () => {
  assert.equal(vocabTokensFromText('  tok 123\n\tx\ty\n\u3000\n\u2028\n\u00a0z\u00a0\n'), ['tok', 'x', '', '', 'z']);
  // \x1c-\x1f and \x85 are Python whitespace though not JavaScript's \s ...
  assert.equal(vocabTokensFromText('a\x1cb\nc\x85d\ne\x1ff\n'), ['a', 'c', 'e']);
  // ... and U+FEFF, U+200B, U+180E are JavaScript's \s or look blank, but not Python whitespace.
  assert.equal(vocabTokensFromText('\ufeffa\nb\u200bc\n\u180e\n'), ['\ufeffa', 'b\u200bc', '\u180e']);
});

test('vocab files decode as UTF-8 with invalid bytes dropped and the file\'s own U+FFFD kept', () => {
  const bytes = Uint8Array.from([
    0xef, 0xbb, 0xbf, 0x61, 0x0a, // BOM + 'a': Python's utf-8 codec keeps the BOM
    0x62, 0xff, 0x63, 0x0a, // 'b', invalid byte, 'c'
    0xef, 0xbf, 0xbd, 0x0a, // U+FFFD written in the file
    0xe4, 0xb8, 0x0a, // truncated 3-byte sequence, then newline
    0xed, 0xa0, 0x80, 0x64, 0x0a, // an encoded surrogate is invalid
    0xe4, 0xb8, 0xad, 0xef, 0xbf, 0xbd, 0xc3, 0x0a, // 中, U+FFFD, truncated sequence
  ]);
  assert.equal(readVocabFile(scratchFile(bytes)), ['\ufeffa', 'bc', '\ufffd', '', 'd', '中\ufffd']);
});

test('a repeated token behaves as in a Python dict: first position, id = dict size at the repeat', () => {
  // token_dict: a=0, b=1; the second 'a' sets a=len(dict)=2; 'c' then also gets len(dict)=2.
  const { vocab } = buildVocab(['a', 'b', 'a', 'c']);
  assert.equal([...vocab.ids], [['a', 2], ['b', 1], ['c', 2]]);
  // Inverting the dict, 'c' wins id 2; id 0 is held by no key and keeps its line's token.
  assert.equal(vocab.tokens, ['a', 'b', 'c']);
  // Simplifying walks the dict sorted stably by id: b(1), a(2), c(2).
  const simplified = buildVocab(['a', 'b', 'a', 'c'], { simplified: true, startswith: [] });
  assert.equal(simplified.vocab.tokens, ['b', 'a', 'c']);
  assert.equal(simplified.keepTokens, [1, 2, 2]);
});

test('simplification drops multi-code-point tokens whose stem holds CJK or punctuation', () => {
  const tokens = [
    '[PAD]', 'x', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a', '##a', '中', '##中', '中国', 'ab', '##ab', '##', '#', '，',
    'a，', '##，', '𠀀', '##𠀀', 'a-b', '$x', '~', '^^', '§x', 'ぁあ', '한국', 'ｈｉ', '！！', '£5', '##ü', '',
  ];
  const { vocab, keepTokens } = buildVocab(tokens, { simplified: true });
  assert.equal(vocab.tokens, [
    '[PAD]', '[UNK]', '[CLS]', '[SEP]', 'x', 'a', '##a', '中', 'ab', '##ab', '##', '#', '，', '𠀀', '~', 'ぁあ', '한국',
    'ｈｉ', '£5', '##ü', '',
  ]);
  assert.equal(keepTokens, [0, 2, 3, 4, 1, 6, 7, 8, 11, 12, 13, 14, 15, 18, 22, 25, 26, 27, 29, 30, 31]);
  vocab.tokens.forEach((token, id) => assert.is(vocab.ids.get(token), id));
});

test('simplification names a startswith token that the vocab lacks', () => {
  assert.throws(() => buildVocab(['[PAD]', '[CLS]'], { simplified: true }, 'tiny vocab'), /^tiny vocab: no token '\[UNK\]'/);
  const path = scratchFile('[PAD]\n');
  assert.throws(() => loadVocab(path, { simplified: true }), (error: Error) => error instanceof VocabError && error.message.startsWith(`${path}: `));
});

test('parseVocab reads bytes, names them in errors, and refuses an empty file', () => {
  assert.equal(parseVocab(new TextEncoder().encode('[PAD]\n\xff中\n'), 'mem.txt').vocab.tokens, ['[PAD]', '\xff中']);
  assert.equal(parseVocab(Uint8Array.from([0x61, 0xff, 0x0a]), 'mem.txt').vocab.tokens, ['a']);
  assert.throws(() => parseVocab(new Uint8Array(0), 'mem.txt'), (error: Error) => error instanceof VocabError && error.message === 'mem.txt: the vocabulary file is empty; expected one token per line');
});

test('reading a missing vocab file names it', () => {
  const path = join(scratch, 'absent.txt');
  assert.throws(() => readVocabFile(path), (error: Error) => error.message.startsWith(`${path}: `) && /ENOENT/.test(error.message));
  assert.throws(() => loadVocab(path), (error: Error) => error instanceof VocabError && error.message.startsWith(`${path}: cannot read`));
});

test('writeVocabFile round-trips through readVocabFile, the "" token included', () => {
  const { vocab } = buildVocab(['[PAD]', 'a', '', '##b', '\ufffd', '中']);
  const path = join(scratch, 'written.txt');
  writeVocabFile(path, vocab);
  assert.is(readFileSync(path, 'utf8'), '[PAD]\na\n\n##b\n\ufffd\n中\n');
  const reread = loadVocab(path).vocab;
  assert.equal(reread.tokens, vocab.tokens);
  assert.equal([...reread.ids], [...vocab.ids]);

  const lastEmpty = buildVocab(['x', '']).vocab;
  writeVocabFile(path, lastEmpty);
  assert.equal(readVocabFile(path), ['x', '']);
});

test('writeVocabFile refuses what would not read back the same', () => {
  const path = join(scratch, 'refused.txt');
  assert.throws(() => writeVocabFile(path, { tokens: ['a b'], ids: new Map([['a b', 0]]) }), /whitespace/);
  assert.throws(() => writeVocabFile(path, { tokens: ['a\u2028'], ids: new Map([['a\u2028', 0]]) }), /whitespace/);
  assert.throws(() => writeVocabFile(path, { tokens: ['a', 'a'], ids: new Map([['a', 1]]) }), /token 0 "a" has id 1/);
  assert.throws(() => writeVocabFile(path, { tokens: ['a'], ids: new Map([['a', 0], ['b', 1]]) }), /maps 2 tokens but lists 1/);
  assert.throws(() => writeVocabFile(join(scratch, 'no-such-dir', 'v.txt'), buildVocab(['a']).vocab), /no-such-dir/);
});

test.run();
