/**
 * The demo `simbert train` runs without data (and the page's trainDemo): a tiny BERT from random
 * initialisation on the generated paraphrase set, with the recipe's options and a higher learning
 * rate. Everything is built from the demo's file texts, so the CLI (which writes them to disk and
 * reads them back) and a browser (which never touches a disk) train on identical data.
 */
import { parseBertConfig, type BertConfig } from '../model/config.js';
import { randomWeightArrays } from '../model/parameters.js';
import { Tokenizer } from '../model/tokenizer.js';
import { parseVocab, type Vocab } from '../model/vocab.js';
import { parseTestPairs, parseTrainGroups, wordPieceCounter, type TestPairs } from './data.js';
import { demoFileTexts, generateDemoData } from './demo-data.js';
import type { TrainOptions } from './trainer.js';

/** The recipe's defaults (DESIGN.md). */
export const RECIPE = { lr: 2e-6, epochs: 3, maxlen: 128, batchSize: 16, weightDecay: 0.01, threshold: 0.8, seed: 42 } as const;
/** The demo trains from scratch, so it raises the learning rate; its data come from a fixed seed. */
export const DEMO = { lr: 1e-3, epochs: 3, maxlen: 64, dataSeed: 20240601 } as const;

/** A tiny BERT for the demo, sized to train in minutes on a software adapter. */
export function demoConfig(vocabSize: number): BertConfig {
  return parseBertConfig(
    {
      vocab_size: vocabSize, hidden_size: 128, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 512,
      hidden_act: 'gelu', hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1, max_position_embeddings: 64,
      type_vocab_size: 2, initializer_range: 0.02,
    },
    'demo config',
  );
}

/** The CLI demo's options (`simbert train` with no flags), with `epochs`, `maxSteps` and `seed` as given. */
export function demoTrainOptions(overrides: { epochs?: number; maxSteps?: number; seed?: number } = {}): TrainOptions {
  return {
    maxlen: DEMO.maxlen,
    batchSize: RECIPE.batchSize,
    epochs: overrides.epochs ?? DEMO.epochs,
    lr: DEMO.lr,
    weightDecay: RECIPE.weightDecay,
    threshold: RECIPE.threshold,
    seed: overrides.seed ?? RECIPE.seed,
    maxSteps: overrides.maxSteps,
    shuffle: true,
  };
}

export interface DemoRun {
  config: BertConfig;
  vocab: Vocab;
  /** Random initial weights from the training seed. */
  weights: Map<string, Float32Array>;
  groups: string[][];
  test: TestPairs;
}

/** The demo's model and data, read from the texts of its files as the CLI reads the files. */
export function prepareDemoRun(seed: number): DemoRun {
  const texts = demoFileTexts(generateDemoData(DEMO.dataSeed));
  const bytes = (text: string) => new TextEncoder().encode(text);
  const { vocab } = parseVocab(bytes(texts.vocab), 'demo-data/vocab.txt', { simplified: true });
  const config = demoConfig(vocab.tokens.length);
  const counter = wordPieceCounter(new Tokenizer(vocab));
  return {
    config,
    vocab,
    weights: randomWeightArrays(config, seed),
    groups: parseTrainGroups(bytes(texts.train), 'demo-data/train.json', counter).groups,
    test: parseTestPairs(bytes(texts.test), 'demo-data/test.txt', counter),
  };
}
