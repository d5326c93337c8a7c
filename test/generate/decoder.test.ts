import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { embedding } from '../../src/autograd/ops/embedding.js';
import { reshape } from '../../src/autograd/ops/shape.js';
import { noGrad } from '../../src/autograd/tape.js';
import { scope } from '../../src/autograd/tensor.js';
import { beamSearch } from '../../src/generate/beam-search.js';
import { KvDecoder } from '../../src/generate/kv-decoder.js';
import { sampleSequences, type SampleOptions } from '../../src/generate/sample-search.js';
import { SimBert } from '../../src/model/bert.js';
import { parseBertConfig } from '../../src/model/config.js';
import { randomWeightArrays, uploadWeights } from '../../src/model/parameters.js';
import { padRows } from '../../src/train/encode.js';
import { assertClose } from '../support/compare.js';
import { testGpu } from '../support/engine.js';
import { randomInts } from '../support/random.js';
import { beamChoices, keptDistribution } from '../support/sampling-reference.js';

const VOCAB = 40;
const SEP = 3;
let model: SimBert;

test.before(async () => {
  await testGpu();
  const config = parseBertConfig({
    vocab_size: VOCAB, hidden_size: 24, num_hidden_layers: 2, num_attention_heads: 3, intermediate_size: 40,
    max_position_embeddings: 64, type_vocab_size: 2, initializer_range: 0.4,
  }, 'decoder test config');
  const arrays = randomWeightArrays(config, 5);
  // A favoured [SEP], so that sequences end at different steps instead of all running to maxlen.
  arrays.get('cls/predictions/output_bias')![SEP] = 4.5;
  model = new SimBert(config, uploadWeights(config, arrays));
});

/** [CLS] + `length` random word ids + [SEP]. */
function source(length: number, seed: number): number[] {
  return [2, ...randomInts(length, VOCAB - 4, seed).map((id) => id + 4), SEP];
}

/** Logits at the last position of each full sequence source + generated (segment 1), recomputed from scratch: [rows][vocab]. */
async function fullLogits(rows: { src: number[]; gen: number[] }[]): Promise<Float32Array[]> {
  const encodings = rows.map(({ src, gen }) => ({ ids: [...src, ...gen], segments: [...src.map(() => 0), ...gen.map(() => 1)] }));
  const batch = padRows(encodings);
  const logits = noGrad(() => scope(() => {
    const { sequence } = model.encode(batch, { training: false });
    const last = encodings.map((e, r) => r * batch.seqLen + e.ids.length - 1);
    return model.mlmLogits(embedding(reshape(sequence, [batch.batch * batch.seqLen, model.config.hiddenSize]), last, [rows.length]));
  }));
  const values = await logits.toArray();
  logits.release();
  return rows.map((_, r) => values.slice(r * VOCAB, (r + 1) * VOCAB));
}

const argmax = (row: ArrayLike<number>, banned: number[] = []) => {
  let best = -1;
  for (let i = 0; i < row.length; i++) if (!banned.includes(i) && (best < 0 || row[i] > row[best])) best = i;
  return best;
};

// Source word counts (awkward lengths) and rows per source.
// Slots per cache page: the default (one page), or 4 (rows spread over pages, one step per page).
for (const [lengths, perSource, pageSlots] of [[[1], 1, 0], [[5, 11, 2], 3, 0], [[13, 7], 5, 0], [[6, 3], 5, 4]] as [number[], number, number][]) {
  test(`cached decoding equals full recomputation: sources of ${lengths} words, ${perSource} rows each${pageSlots ? `, ${pageSlots} slots per cache page` : ''}, logits within 1e-4 over 6 steps`, async () => {
    const sources = lengths.map((length, i) => source(length, 31 + i));
    const slots = sources.length * perSource;
    const maxGen = 8;
    const decoder = new KvDecoder(model, sources, slots, maxGen, pageSlots ? pageSlots * maxGen * model.config.hiddenSize * 4 : undefined);
    if (pageSlots) assert.is(decoder.pageOf(slots - 1), Math.ceil(slots / pageSlots) - 1);
    const first = decoder.prefill();
    const prefillLogits = await first.toArray();
    first.release();
    const reference0 = await fullLogits(sources.map((src) => ({ src, gen: [] })));
    sources.forEach((_, i) => assertClose(prefillLogits.subarray(i * VOCAB, (i + 1) * VOCAB), reference0[i], `prefill logits of source ${i}`, { rtol: 1e-4, atol: 1e-4 }));
    // Each row feeds its own token sequence (row-dependent, so rows of one source differ), one token a step.
    const rows = Array.from({ length: slots }, (_, slot) => ({ input: Math.floor(slot / perSource), slot, gen: [] as number[] }));
    for (let t = 0; t < 6; t++) {
      // Rows leave the batch as the steps go (finished rows): step t keeps rows with slot % 3 != 2 once t >= 3.
      const live = rows.filter((row) => t < 3 || row.slot % 3 !== 2);
      for (const row of live) row.gen.push(4 + ((row.slot * 7 + t * 3) % (VOCAB - 4)));
      // One step per cache page, as the sampler runs them.
      const cached = new Float32Array(live.length * VOCAB);
      for (let start = 0; start < live.length;) {
        let end = start;
        while (end < live.length && decoder.pageOf(live[end].slot) === decoder.pageOf(live[start].slot)) end++;
        const hidden = decoder.step(live.slice(start, end).map((row) => [{ input: row.input, slot: row.slot, token: row.gen[t] }]), t);
        const logits = decoder.logits(hidden, 0, end - start);
        hidden.release();
        cached.set(await logits.toArray(), start * VOCAB);
        logits.release();
        start = end;
      }
      const reference = await fullLogits(live.map((row) => ({ src: sources[row.input], gen: row.gen })));
      live.forEach((row, r) => assertClose(cached.subarray(r * VOCAB, (r + 1) * VOCAB), reference[r], `step ${t} row ${row.slot}`, { rtol: 1e-4, atol: 1e-4 }));
    }
    decoder.release();
  });
}

test('rows sharing a history run once per group, and the cache of every member continues exactly: logits within 1e-4 of full recomputation as the groups split', async () => {
  const sources = [source(4, 41), source(9, 42)];
  const perSource = 6;
  const slots = sources.length * perSource;
  const maxGen = 6;
  const decoder = new KvDecoder(model, sources, slots, maxGen);
  decoder.prefill().release();
  // Row j's token at step t depends on j >> (3 - t): one group per source at step 0, then 2, 3 (of 6 rows), 6.
  const rows = Array.from({ length: slots }, (_, slot) => ({ input: Math.floor(slot / perSource), slot, gen: [] as number[] }));
  for (let t = 0; t < 5; t++) {
    for (const row of rows) row.gen.push(4 + ((row.input * 5 + (row.slot % perSource >> Math.max(0, 3 - t)) * 7 + t) % (VOCAB - 4)));
    const groups = new Map<string, { input: number; slot: number; token: number }[]>();
    for (const row of rows) {
      const key = `${row.input}:${row.gen.join(',')}`;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key)!.push({ input: row.input, slot: row.slot, token: row.gen[t] });
    }
    if (t === 0) assert.is(groups.size, sources.length);
    const hidden = decoder.step([...groups.values()], t);
    assert.equal(hidden.shape, [groups.size, model.config.hiddenSize]);
    const logits = decoder.logits(hidden, 0, groups.size);
    hidden.release();
    const values = await logits.toArray();
    logits.release();
    const reference = await fullLogits([...groups.values()].flatMap((group) => group.map((row) => ({ src: sources[row.input], gen: rows[row.slot].gen }))));
    let r = 0;
    [...groups.values()].forEach((group, g) => {
      for (const row of group) assertClose(values.subarray(g * VOCAB, (g + 1) * VOCAB), reference[r++], `step ${t} row ${row.slot}`, { rtol: 1e-4, atol: 1e-4 });
    });
  }
  assert.throws(() => decoder.step([[{ input: 0, slot: 0, token: 5 }, { input: 0, slot: 1, token: 6 }]], 5), /one input feeding one token/);
  decoder.release();
});

const GREEDY: SampleOptions = { n: 1, greedy: true, topk: 0, topp: 1, temperature: 1, maxlen: 10, seed: 0, minLen: 0, noRepeatNgram: 0, sepId: SEP, padId: 0 };

test('greedy decoding of several sources in one batch equals greedy full recomputation token for token', async () => {
  const sources = [source(3, 1), source(9, 2), source(1, 3), source(14, 4)];
  const results = await sampleSequences(model, sources, GREEDY);
  for (let i = 0; i < sources.length; i++) {
    const expected: number[] = [];
    for (let t = 0; t < GREEDY.maxlen; t++) {
      const [logits] = await fullLogits([{ src: sources[i], gen: expected }]);
      const id = argmax(logits, [0]);
      if (id === SEP) break;
      expected.push(id);
    }
    assert.equal(results[i].sequences, [expected], `source ${i}`);
  }
  const lengths = results.map((r) => r.sequences[0].length);
  assert.ok(lengths.some((l) => l < GREEDY.maxlen) && lengths.some((l) => l > 0), `lengths ${lengths}: every sequence should not end alike`);
});

test('sampled tokens lie in the top-k of full recomputation at every step; the same seed repeats, and batching does not change an input', async () => {
  const sources = [source(4, 8), source(6, 9)];
  const options: SampleOptions = { ...GREEDY, greedy: false, n: 6, topk: 3, maxlen: 6, seed: 5 };
  const together = await sampleSequences(model, sources, options);
  for (let i = 0; i < sources.length; i++) {
    for (const sequence of together[i].sequences) {
      for (let t = 0; t < sequence.length; t++) {
        const [logits] = await fullLogits([{ src: sources[i], gen: sequence.slice(0, t) }]);
        logits[0] = -Infinity;
        assert.ok(keptDistribution(logits, { topk: 3 }).has(sequence[t]), `source ${i} step ${t}: ${sequence[t]} is outside the top 3`);
      }
    }
  }
  const again = await sampleSequences(model, sources, options);
  assert.equal(again.map((r) => r.sequences), together.map((r) => r.sequences));
  const alone = await sampleSequences(model, [sources[1]], options);
  assert.equal(alone[0].sequences, together[1].sequences);
  const otherSeed = await sampleSequences(model, sources, { ...options, seed: 6 });
  assert.not.equal(otherSeed.map((r) => r.sequences), together.map((r) => r.sequences));
});

test('--min-len bans [SEP] until that many tokens exist; --no-repeat-ngram leaves no repeated or copied n-gram', async () => {
  const sources = [source(5, 12), source(2, 13)];
  const options: SampleOptions = { ...GREEDY, greedy: false, n: 8, topk: 40, maxlen: 12, seed: 9, minLen: 4, noRepeatNgram: 2 };
  const results = await sampleSequences(model, sources, options);
  results.forEach(({ sequences }, i) => {
    const sourceBigrams = new Set(sources[i].slice(1, -1).slice(1).map((id, j) => `${sources[i][j + 1]},${id}`));
    for (const sequence of sequences) {
      assert.ok(sequence.length >= 4, `a sequence of ${sequence.length} tokens ended before --min-len 4`);
      const bigrams = sequence.slice(1).map((id, j) => `${sequence[j]},${id}`);
      assert.is(new Set(bigrams).size, bigrams.length, `repeated bigram in ${sequence}`);
      for (const bigram of bigrams) assert.not.ok(sourceBigrams.has(bigram), `bigram ${bigram} copies the source ${sources[i]}`);
      assert.not.ok(sequence.includes(0), 'generated [PAD]');
    }
  });
});

test('beam search equals a full-recomputation beam search (bert4keras rules) token for token', async () => {
  const sources = [source(3, 21), source(8, 22), source(1, 23)];
  const width = 3;
  const maxlen = 7;
  const results = await beamSearch(model, sources, { beam: width, lengthPenalty: 0, temperature: 1, maxlen, minLen: 0, noRepeatNgram: 0, sepId: SEP, padId: 0 });
  for (let i = 0; i < sources.length; i++) {
    let beams = [{ ids: [] as number[], score: 0 }];
    let expected: number[] | null = null;
    for (let t = 0; t < maxlen && expected === null; t++) {
      const rows = await fullLogits(beams.map((b) => ({ src: sources[i], gen: b.ids })));
      for (const row of rows) row[0] = -Infinity;
      const choices = beamChoices(rows, beams.map((b) => b.score), t === 0 ? width : beams.length);
      const next = choices.map((c) => ({ ids: [...beams[c.parent].ids, c.token], score: c.score }));
      const best = next.reduce((a, b) => (b.score > a.score ? b : a));
      const ended = (b: { ids: number[] }) => b.ids[b.ids.length - 1] === SEP;
      if (ended(best)) expected = best.ids.slice(0, -1);
      else if (t + 1 === maxlen) expected = next.filter((b) => !ended(b)).reduce((a, b) => (b.score > a.score ? b : a)).ids;
      else beams = next.filter((b) => !ended(b));
    }
    assert.equal(results[i].sequences, [expected], `source ${i}`);
  }
  const lengths = results.map((r) => r.sequences[0].length);
  assert.ok(lengths.some((l) => l < maxlen - 1) && lengths.some((l) => l > 0), `lengths ${lengths}: every sequence should not end alike`);
});

test('a source that with maxlen passes max_position_embeddings is refused', async () => {
  assert.throws(() => new KvDecoder(model, [source(40, 1)], 1, 30), /max_position_embeddings 64/);
});

test.run();
