/**
 * What the browser tests check on each adapter, against the Node CLI on the same tiny model:
 * encode's vectors, similar's ranking, generate's paraphrases, and the page's error for a missing
 * model file.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SimBert } from '../../src/model/bert.js';
import { uploadWeights } from '../../src/model/parameters.js';
import { Tokenizer } from '../../src/model/tokenizer.js';
import { demoTrainOptions, prepareDemoRun } from '../../src/train/demo-recipe.js';
import { train, type StepRecord } from '../../src/train/trainer.js';
import { testGpu } from '../support/engine.js';
import { errorLines, runCli, writeTinyModel } from '../support/tiny-model.js';
import { chromiumMissing, openPage, serveWeb, type AdapterName, type BrowserSession } from './chromium.js';

const TEXTS = ['你好吗', '我们去哪里', '他是谁', '这个多少人', '请问怎么去', '天下大小'];
const CORPUS = ['我们去哪里', '你们在哪里', '他是谁', '她们是谁', '这个多少', '怎么去上下', '好不好'];
const QUERY = '我去哪里';
const MAXLEN = 32;
/** The training seed (the CLI's default). */
const SEED = 42;
/** The module as the page imports it (a string, so TypeScript leaves the browser-side import alone). */
const MODULE_URL: string = '/dist/browser/simbert.js';
/** Relative to the largest magnitude of the vector (a vector's small entries carry no separate precision). */
const RTOL = 1e-4;

interface CliHit {
  text: string;
  score: number;
  line: number;
}

export function browserTests(adapter: AdapterName): void {
  const missing = chromiumMissing();
  if (missing) {
    console.log(`skipped: ${missing}`);
    test.skip(`browser tests on ${adapter}`, () => {});
    test.run();
    return;
  }
  const scratch = mkdtempSync(join(tmpdir(), `simbert-browser-${adapter}-`));
  const models = join(scratch, 'models');
  const model = writeTinyModel(join(models, 'tiny'), { seed: 11 });
  const broken = join(models, 'no-data');
  mkdirSync(broken);
  for (const name of ['bert_config.json', 'vocab.txt', 'bert_model.ckpt.index']) copyFileSync(join(model.dir, name), join(broken, name));

  let server: Awaited<ReturnType<typeof serveWeb>>;
  let session: BrowserSession;

  test.before(async () => {
    server = await serveWeb(models);
    session = await openPage(adapter, server.url);
  });
  test.after(async () => {
    await session?.close();
    await server?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  test(`${adapter}: encode gives the CLI's vectors`, async () => {
    const textsFile = join(scratch, 'texts.txt');
    writeFileSync(textsFile, `${TEXTS.join('\n')}\n`);
    const cli = runCli(['encode', '--model', model.dir, '--texts', textsFile, '--format', 'jsonl', '--maxlen', String(MAXLEN)]);
    assert.is(cli.status, 0, errorLines(cli).join('\n'));
    const expected = cli.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { vector: number[] }).vector);
    const result = await session.page.evaluate(async ({ base, texts, maxlen, moduleUrl }) => {
      const simbert = await import(moduleUrl);
      const loaded = await simbert.loadModel(`${base}models/tiny/`);
      const vectors = await loaded.encode(texts, { maxlen });
      const info = loaded.adapterInfo;
      loaded.dispose();
      return { vectors: vectors.map((v: Float32Array) => Array.from(v)), info };
    }, { base: server.url, texts: TEXTS, maxlen: MAXLEN, moduleUrl: MODULE_URL });
    console.log(`info: ${adapter}: ${JSON.stringify(result.info)}`);
    assert.is(result.info.compatibility, adapter === 'compat', 'the adapter mode the flags ask for');
    assert.is(result.vectors.length, TEXTS.length);
    result.vectors.forEach((vector: number[], row: number) => {
      const reference = expected[row] as number[];
      assert.is(vector.length, reference.length);
      const scale = Math.max(...reference.map(Math.abs));
      const worst = Math.max(...vector.map((value, i) => Math.abs(value - (reference[i] as number))));
      assert.ok(worst <= RTOL * scale, `${TEXTS[row]}: largest difference ${worst} exceeds ${RTOL} x ${scale}`);
    });
    assert.equal(session.problems, []);
  });

  test(`${adapter}: similar ranks as the CLI does`, async () => {
    const corpusFile = join(scratch, 'corpus.txt');
    writeFileSync(corpusFile, `${CORPUS.join('\n')}\n`);
    const cli = runCli(['similar', '--model', model.dir, '--corpus', corpusFile, '--query', QUERY, '--top-k', '5', '--format', 'jsonl', '--maxlen', String(MAXLEN)]);
    assert.is(cli.status, 0, errorLines(cli).join('\n'));
    const expected = (JSON.parse(cli.stdout.trim()) as { results: CliHit[] }).results;
    const hits = (await session.page.evaluate(async ({ base, query, corpus, maxlen, moduleUrl }) => {
      const simbert = await import(moduleUrl);
      const loaded = await simbert.loadModel(`${base}models/tiny/`);
      const found = await loaded.similar(query, corpus, { k: 5, maxlen });
      loaded.dispose();
      return found;
    }, { base: server.url, query: QUERY, corpus: CORPUS, maxlen: MAXLEN, moduleUrl: MODULE_URL })) as CliHit[];
    assert.equal(hits.map((hit) => hit.line), expected.map((hit) => hit.line));
    assert.equal(hits.map((hit) => hit.text), expected.map((hit) => hit.text));
    hits.forEach((hit, i) => assert.ok(Math.abs(hit.score - (expected[i] as CliHit).score) < 1e-4, `${hit.text}: ${hit.score} vs ${(expected[i] as CliHit).score}`));
  });

  test(`${adapter}: generate gives the CLI's paraphrases`, async () => {
    const options = { n: 12, k: 6, topk: 3, maxlen: 8, seed: 5 };
    const cli = runCli(['generate', '--model', model.dir, '--text', QUERY, '--n', '12', '--k', '6', '--topk', '3', '--maxlen', '8', '--seed', '5', '--format', 'jsonl']);
    assert.is(cli.status, 0, errorLines(cli).join('\n'));
    const expected = (JSON.parse(cli.stdout.trim()) as { candidates: { text: string; ids: number[]; cosine: number }[] }).candidates;
    const candidates = (await session.page.evaluate(async ({ base, text, options, moduleUrl }) => {
      const simbert = await import(moduleUrl);
      const loaded = await simbert.loadModel(`${base}models/tiny/`);
      const result = await loaded.generate(text, options);
      loaded.dispose();
      return result.candidates;
    }, { base: server.url, text: QUERY, options, moduleUrl: MODULE_URL })) as typeof expected;
    assert.ok(expected.length >= 2, `the CLI gave ${expected.length} candidates: too few to compare a ranking`);
    assert.equal(candidates.map((c) => c.ids), expected.map((c) => c.ids));
    assert.equal(candidates.map((c) => c.text), expected.map((c) => c.text));
    candidates.forEach((c, i) => assert.ok(Math.abs(c.cosine - (expected[i] as { cosine: number }).cosine) < 1e-4, `${c.text}: ${c.cosine} vs ${(expected[i] as { cosine: number }).cosine}`));
  });

  test(`${adapter}: demo training steps in the page give the Node losses`, async () => {
    const steps = 3;
    await testGpu();
    const demo = prepareDemoRun(SEED);
    const nodeSteps: StepRecord[] = [];
    await train({
      model: new SimBert(demo.config, uploadWeights(demo.config, demo.weights)),
      tokenizer: new Tokenizer(demo.vocab),
      loaded: { config: demo.config, vocab: demo.vocab, weights: demo.weights, optimizer: null, description: 'demo' },
      groups: demo.groups,
      test: demo.test,
      options: demoTrainOptions({ maxSteps: steps, seed: SEED }),
      output: null,
      data: { kind: 'demo', train: 'train.json', test: 'test.txt' },
      events: { step: (record) => nodeSteps.push(record) },
    });
    const inPage = (await session.page.evaluate(async ({ moduleUrl, steps, seed }) => {
      const simbert = await import(moduleUrl);
      const records: unknown[] = [];
      const result = await simbert.trainDemo({ maxSteps: steps, seed }, (event: { kind: string; record: unknown }) => {
        if (event.kind === 'step') records.push(event.record);
      });
      result.model.dispose();
      return records;
    }, { moduleUrl: MODULE_URL, steps, seed: SEED })) as StepRecord[];
    assert.is(inPage.length, steps);
    inPage.forEach((record, i) => {
      const reference = nodeSteps[i] as StepRecord;
      for (const key of ['loss', 'seq2seq_loss', 'similarity_loss'] as const) {
        assert.ok(Math.abs(record[key] - reference[key]) <= 1e-4 * Math.abs(reference[key]), `step ${i + 1} ${key}: ${record[key]} in the page, ${reference[key]} in Node`);
      }
    });
  });

  test(`${adapter}: the page names a missing model file`, async () => {
    const { page } = session;
    await page.fill('#model-url', '/models/no-data/');
    await page.click('#load-url');
    await page.waitForSelector('#model-status.error', { timeout: 60000 });
    const message = await page.textContent('#model-status');
    assert.match(message ?? '', new RegExp(`^${server.url}models/no-data/bert_model\\.ckpt\\.data-00000-of-00001: data shard is missing`));
    await page.fill('#model-url', '/models/absent/');
    await page.click('#load-url');
    // The status reads "Loading …/models/absent/…" first: wait for the error that names the folder.
    await page.waitForFunction(() => {
      const status = (globalThis as unknown as { document: { getElementById(id: string): { className: string; textContent: string | null } | null } }).document.getElementById('model-status');
      return status !== null && status.className.includes('error') && /absent/.test(status.textContent ?? '');
    }, undefined, { timeout: 60000 });
    assert.match(await page.textContent('#model-status') ?? '', new RegExp(`^${server.url}models/absent/: not a model folder; expected a TensorFlow BERT folder`));
  });

  test.run();
}
