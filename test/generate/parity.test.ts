import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { beamSearch } from '../../src/generate/beam-search.js';
import { sampleSequences } from '../../src/generate/sample-search.js';
import { SimBert } from '../../src/model/bert.js';
import { parseBertConfig } from '../../src/model/config.js';
import { uploadWeights } from '../../src/model/parameters.js';
import { testGpu } from '../support/engine.js';
import { projectFixture } from '../support/fixtures.js';
import { loadParityFixture } from '../support/parity-fixture.js';

/** test/fixtures/parity/generate-tiny.json: greedy and beam results of PyTorch (float64) for the parity fixture's model. */
interface GenerateFixture {
  format: string;
  maxlen: number;
  beam: number;
  cases: { source: number[]; greedy: number[]; greedy_margin: number; beam: number[]; beam_score: number; beam_margin: number }[];
}

const expected = JSON.parse(readFileSync(projectFixture('parity', 'generate-tiny.json'), 'utf8')) as GenerateFixture;
const fixture = loadParityFixture();
const config = parseBertConfig(fixture.config, 'parity fixture');
let model: SimBert;
const RULES = { minLen: 0, noRepeatNgram: 0, sepId: 3, padId: 0 };

test.before(async () => {
  await testGpu();
  model = new SimBert(config, uploadWeights(config, new Map([...fixture.params].map(([name, a]) => [name, a.data]))));
  assert.is(expected.format, 'simbert-generate-fixture/1');
  // float32 against float64: a choice closer than this could flip, and the test would prove nothing.
  for (const c of expected.cases) assert.ok(c.greedy_margin > 1e-3 && c.beam_margin > 1e-3, `margins ${c.greedy_margin}, ${c.beam_margin}`);
});

test('greedy decoding of every fixture source in one batch equals PyTorch token for token', async () => {
  const results = await sampleSequences(model, expected.cases.map((c) => c.source), {
    ...RULES, n: 1, greedy: true, topk: 0, topp: 1, temperature: 1, maxlen: expected.maxlen, seed: 0,
  });
  expected.cases.forEach((c, i) => assert.equal(results[i].sequences, [c.greedy], `source ${i}`));
});

test('beam search equals PyTorch token for token', async () => {
  const results = await beamSearch(model, expected.cases.map((c) => c.source), {
    ...RULES, beam: expected.beam, lengthPenalty: 0, temperature: 1, maxlen: expected.maxlen,
  });
  expected.cases.forEach((c, i) => assert.equal(results[i].sequences, [c.beam], `source ${i}`));
});

test.run();
