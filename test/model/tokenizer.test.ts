import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Tokenizer } from '../../src/model/tokenizer.js';
import { buildVocab } from '../../src/model/vocab.js';
import { loadVocab } from '../../src/node/vocab-file.js';
import { sharedFixture } from '../support/fixtures.js';

const HAND_TOKENS = [
  '[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'un', '##aff', '##able', '##a', '##ff', 'a', 'ab', '##b', '##bc', 'x',
  'hello', 'world', '##s', 'σας', 'istanbul', 'unicode', 'naive', ',', '!', '$', '^', '中', '国',
  '一', '二', '三', '四', '五', '六', '七', '八', '九', '十', '𝒶', '##𝒶',
];
const handVocabPath = join(mkdtempSync(join(tmpdir(), 'simbert-tokenizer-')), 'vocab.txt');
writeFileSync(handVocabPath, HAND_TOKENS.join('\n') + '\n');
const hand = new Tokenizer(loadVocab(handVocabPath).vocab);

/** The word pieces of a text with the hand vocab, without [CLS] and [SEP]. */
function pieces(text: string, tokenizer = hand): string[] {
  const tokens = tokenizer.tokenize(text);
  assert.is(tokens[0], '[CLS]');
  assert.is(tokens[tokens.length - 1], '[SEP]');
  return tokens.slice(1, -1);
}

test('special ids and unknown tokens', () => {
  assert.equal([hand.padId, hand.unkId, hand.clsId, hand.sepId], [0, 1, 2, 3]);
  assert.is(hand.idOf('hello'), 15);
  assert.is(hand.idOf('nope'), 1);
  assert.is(hand.idOf(''), 1);
  assert.throws(() => new Tokenizer(buildVocab(['[PAD]', '[CLS]', '[SEP]']).vocab), /lacks \[UNK\]/);
});

test('WordPiece: greedy longest match first, ## on later pieces', () => {
  assert.equal(pieces('unaffable'), ['un', '##aff', '##able']);
  assert.equal(pieces('hellos worlds'), ['hello', '##s', 'world', '##s']);
  assert.equal(pieces('abbc'), ['ab', '##bc']);
  // 'a' + '##bc' would cover 'abc', but greedy takes 'ab' and then finds no '##c'.
  assert.equal(pieces('abc'), ['[UNK]']);
  // A word that cannot be fully matched becomes one [UNK], not a partial match.
  assert.equal(pieces('unaffablez'), ['[UNK]']);
  assert.equal(pieces('hello😀'), ['[UNK]']);
  assert.equal(pieces('x 😀 x'), ['x', '[UNK]', 'x']);
  assert.equal(hand.encode('abc x').ids, [2, 1, 14, 3]);
});

test('words longer than 200 code points (not UTF-16 units) become [UNK]', () => {
  assert.equal(pieces('a'.repeat(200)), ['a', ...Array(199).fill('##a')]);
  assert.equal(pieces('a'.repeat(201)), ['[UNK]']);
  // 150 code points are 300 UTF-16 units.
  assert.equal(pieces('𝒶'.repeat(150)), ['𝒶', ...Array(149).fill('##𝒶')]);
  assert.equal(pieces('𝒶'.repeat(201)), ['[UNK]']);
});

test('lower-case, strip accents, split CJK and punctuation off', () => {
  assert.equal(pieces('UnAffABLE'), ['un', '##aff', '##able']);
  assert.equal(pieces('Héllo, World!'), ['hello', ',', 'world', '!']);
  assert.equal(pieces('ÜNÏCÖDÉ NAÏVE'), ['unicode', 'naive']);
  assert.equal(pieces('İSTANBUL'), ['istanbul']);
  // Lower-casing the whole text, not character by character, gives the final sigma.
  assert.equal(pieces('ΣΑΣ'), ['σας']);
  assert.equal(pieces('x中国a'), ['x', '中', '国', 'a']);
  // ASCII symbols count as punctuation whatever their category; other symbols do not.
  assert.equal(pieces('a$a^a'), ['a', '$', 'a', '^', 'a']);
  assert.equal(pieces('x¥'), ['[UNK]']);
});

test('spaces split words; NUL, U+FFFD and control or format characters vanish', () => {
  for (const space of [' ', '\t', '\r\n', '\u3000', '\u00a0', '\u2003', '\u2028', '\u2029']) {
    assert.equal(pieces(`hello${space}world`), ['hello', 'world'], JSON.stringify(space));
  }
  for (const dropped of ['\u0000', '\ufffd', '\u0007', '\u001c', '\u0085', '\u200b', '\u00ad', '\ufeff', '\u200d']) {
    assert.equal(pieces(`hel${dropped}lo`), ['hello'], JSON.stringify(dropped));
  }
  assert.equal(pieces(''), []);
  assert.equal(pieces(' \u3000\t'), []);
});

test('without lower-casing nothing is normalised', () => {
  const cased = new Tokenizer(hand.vocab, { doLowerCase: false });
  assert.equal(pieces('Hello hello', cased), ['[UNK]', 'hello']);
  assert.equal(pieces('naïve', cased), ['[UNK]']);
  assert.equal(pieces('hel\u0000lo, world', cased), ['hello', ',', 'world']);
});

test('encode: [CLS] a [SEP] b [SEP] with segments 0 then 1', () => {
  const pair = hand.encode('一二', '三');
  assert.equal(pair.tokens, ['[CLS]', '一', '二', '[SEP]', '三', '[SEP]']);
  assert.equal(pair.ids, [2, 28, 29, 3, 30, 3]);
  assert.equal(pair.segments, [0, 0, 0, 0, 1, 1]);
  const single = hand.encode('hello 😀');
  assert.equal(single.tokens, ['[CLS]', 'hello', '[UNK]', '[SEP]']);
  assert.equal(single.ids, [2, 15, 1, 3]);
  assert.equal(single.segments, [0, 0, 0, 0]);
  assert.equal(hand.encode('一', '').tokens, ['[CLS]', '一', '[SEP]', '[SEP]']);
  assert.equal(hand.encode('一', '').segments, [0, 0, 0, 1]);
});

test('encode truncates the text with more word pieces first, the first text on ties', () => {
  // 5 pieces against 3, 8 tokens: 五 and 四 go from the longer first text, then 三 on the tie.
  const longerFirst = hand.encode('一二三四五', '六七八', 8);
  assert.equal(longerFirst.tokens, ['[CLS]', '一', '二', '[SEP]', '六', '七', '八', '[SEP]']);
  assert.equal(longerFirst.segments, [0, 0, 0, 0, 1, 1, 1, 1]);
  // 3 pieces each, 7 tokens: the first text loses 三 on the tie, then the second loses 八.
  assert.equal(hand.encode('一二三', '六七八', 7).tokens, ['[CLS]', '一', '二', '[SEP]', '六', '七', '[SEP]']);
  assert.equal(hand.encode('一', '六七八九十', 6).tokens, ['[CLS]', '一', '[SEP]', '六', '七', '[SEP]']);
  assert.equal(hand.encode('一二', '三', 6).tokens, ['[CLS]', '一', '二', '[SEP]', '三', '[SEP]']);
  assert.equal(hand.encode('一二', '三', 5).tokens, ['[CLS]', '一', '[SEP]', '三', '[SEP]']);
  assert.equal(hand.encode('一二', '三', 3).tokens, ['[CLS]', '[SEP]', '[SEP]']);
});

test('encode cuts a single text from the right, word piece by word piece', () => {
  assert.equal(hand.encode('一二三四五', undefined, 4).tokens, ['[CLS]', '一', '二', '[SEP]']);
  assert.equal(hand.encode('unaffable', undefined, 4).tokens, ['[CLS]', 'un', '##aff', '[SEP]']);
  assert.equal(hand.encode('一二三', undefined, 5).tokens, ['[CLS]', '一', '二', '三', '[SEP]']);
  assert.equal(hand.encode('一二三', undefined, 2).tokens, ['[CLS]', '[SEP]']);
});

test('encode refuses a maxlen that leaves no room for [CLS] and [SEP]', () => {
  assert.throws(() => hand.encode('一', undefined, 1), /at least 2/);
  assert.throws(() => hand.encode('一', '二', 2), /at least 3/);
  assert.throws(() => hand.encode('一', undefined, 3.5), /integer/);
});

const zhDir = sharedFixture('vocab-zh');
const zhTest = zhDir === null ? test.skip : test;
const zhPath = zhDir === null ? '' : join(zhDir, 'vocab.txt');

/** Line numbers of the Chinese vocab read naively; its only odd line (343) holds no token used here. */
function zhLineIds(): Map<string, number> {
  const lines = readFileSync(zhPath, 'utf8').split('\n');
  return new Map(lines.map((line, index) => [line, index]));
}

zhTest('Chinese vocab: CJK, Latin, digits, full-width characters and punctuation', () => {
  const tokenizer = new Tokenizer(loadVocab(zhPath).vocab);
  const lineIds = zhLineIds();
  const expected = ['[CLS]', '我', '爱', 'python', '##3', '.', '8', '和', 'ｃｐ', '##ｕ', '！', '[SEP]'];
  const encoded = tokenizer.encode('我爱Python3.8和ＣＰＵ！');
  assert.equal(encoded.tokens, expected);
  assert.equal(encoded.ids, expected.map((token) => lineIds.get(token)!));
  assert.equal(encoded.ids.slice(0, 5), [101, 2769, 4263, 9030, 8152]);
});

zhTest('Chinese vocab: accents, emoji and control characters', () => {
  const tokenizer = new Tokenizer(loadVocab(zhPath).vocab);
  const lineIds = zhLineIds();
  const encoded = tokenizer.encode('iPhone11 Café NAÏVE hello😀 你\u200b好\u0000？', '开初婚');
  const expected = ['[CLS]', 'iphone', '##11', 'cafe', 'na', '##ive', '[UNK]', '你', '好', '？', '[SEP]', '开', '初', '婚', '[SEP]'];
  assert.equal(encoded.tokens, expected);
  assert.equal(encoded.ids, expected.map((token) => lineIds.get(token)!));
  assert.equal(encoded.segments, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1]);
});

zhTest('Chinese vocab simplified: same word pieces, ids that keepTokens maps back', () => {
  const original = new Tokenizer(loadVocab(zhPath).vocab);
  const { vocab, keepTokens } = loadVocab(zhPath, { simplified: true });
  const simplified = new Tokenizer(vocab);
  assert.equal([simplified.padId, simplified.unkId, simplified.clsId, simplified.sepId], [0, 1, 2, 3]);
  const text = '人和畜生的区别是什么？ iPhone11 Café 😀';
  const a = original.encode(text, '开初婚未育证明怎么弄？');
  const b = simplified.encode(text, '开初婚未育证明怎么弄？');
  assert.equal(b.tokens, a.tokens);
  assert.equal(b.ids.map((id) => keepTokens![id]), a.ids);
  assert.equal(b.ids.slice(0, 2), [2, vocab.ids.get('人')!]);
});

test.run();
