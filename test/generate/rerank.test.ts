import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bannedTokens, ngramCompletions } from '../../src/generate/bans.js';
import { decodeIds, decodeTokens } from '../../src/generate/detokenize.js';
import { rerank } from '../../src/generate/rerank.js';

test('decodeTokens writes text as bert4keras Tokenizer.decode', () => {
  assert.is(decodeTokens(['[CLS]', '北', '京', '明', '天', '[SEP]']), '北京明天');
  assert.is(decodeTokens(['hello', 'wo', '##rld', '!', 'how', 'are', 'you']), 'hello world! how are you');
  assert.is(decodeTokens(['北', '京', 'is', 'big']), '北京is big');
  assert.is(decodeTokens(['去', '上', '海', '，', '好', '吗', '？']), '去上海，好吗？');
  assert.is(decodeTokens(['it', "'", 's', 'ok']), "it's ok");
  assert.is(decodeTokens(['(', 'a', ')', '1', '.', '5']), '(a) 1.5');
  assert.is(decodeTokens(['[UNK]', '[PAD]', 'x']), 'x');
  assert.is(decodeTokens([]), '');
  assert.is(decodeIds([4, 5, 1], ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '天', '气']), '天气');
});

test('bannedTokens: [PAD] always, [SEP] before min-len, n-grams already in the text or the source', () => {
  const rules = { minLen: 2, noRepeatNgram: 0, sepId: 3, padId: 0 };
  assert.equal(bannedTokens([7], rules, null).sort(), [0, 3]);
  assert.equal(bannedTokens([7, 8], rules, null), [0]);
  const bigrams = { ...rules, minLen: 0, noRepeatNgram: 2 };
  const source = ngramCompletions([10, 11, 12], 2);
  // Generated ... 5 6 5: after 5 comes neither 6 (repeat) nor anything the source follows 5 with.
  assert.equal(bannedTokens([5, 6, 5], bigrams, source).sort((a, b) => a - b), [0, 6]);
  // After 11, the source's 11 12 may not be copied.
  assert.equal(bannedTokens([5, 11], bigrams, source).sort((a, b) => a - b), [0, 12]);
  const trigrams = { ...bigrams, noRepeatNgram: 3 };
  assert.equal(bannedTokens([1, 2, 9, 1, 2], trigrams, null).sort((a, b) => a - b), [0, 9]);
  assert.equal(bannedTokens([1], trigrams, null), [0]);
});

/** A fake encoder: the vector of a text is given by a table. */
function encoder(table: Record<string, number[]>) {
  const calls: string[][] = [];
  const encode = async (texts: string[]) => {
    calls.push(texts);
    return Float32Array.from(texts.flatMap((text) => table[text]));
  };
  return { encode, calls };
}

test('rerank drops duplicates and the input, orders by cosine descending, keeps k', async () => {
  const { encode, calls } = encoder({ input: [1, 0], a: [1, 1], b: [0, 1], c: [1, 0.1], d: [-1, 0] });
  const generated = ['a', 'input', 'b', 'a', 'c', 'd', 'b'].map((text, i) => ({ text, ids: [i] }));
  const out = await rerank('input', generated, 3, 2, encode);
  assert.equal(out.map((c) => c.text), ['c', 'a', 'b']);
  assert.equal(out.map((c) => c.ids), [[4], [0], [2]]);
  assert.ok(Math.abs(out[0].cosine - 1 / Math.sqrt(1.01)) < 1e-6);
  assert.ok(Math.abs(out[1].cosine - Math.SQRT1_2) < 1e-6);
  assert.ok(Math.abs(out[2].cosine) < 1e-6);
  // The input is encoded first, then each distinct candidate once.
  assert.equal(calls, [['input', 'a', 'b', 'c', 'd']]);
  const all = await rerank('input', generated, 10, 2, encode);
  assert.equal(all.map((c) => c.text), ['c', 'a', 'b', 'd']);
});

test('rerank with keepAll keeps a candidate equal to the input; nothing left gives no candidates', async () => {
  const { encode } = encoder({ input: [1, 0] });
  const kept = await rerank('input', [{ text: 'input', ids: [4] }], 1, 2, encode, true);
  assert.equal(kept.map((c) => [c.text, c.cosine]), [['input', 1]]);
  assert.equal(await rerank('input', [{ text: 'input', ids: [4] }], 1, 2, encode), []);
});

test.run();
