import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bertParameterShapes, parseBertConfig, type BertConfig } from '../../src/model/config.js';
import { randomWeightArrays } from '../../src/model/parameters.js';
import { buildVocab } from '../../src/model/vocab.js';
import { MODEL_FILES } from '../../src/model/model-folder.js';
import { writeModelDir } from '../../src/node/model-directory.js';

/** Characters the tiny test models know, besides the four special tokens. */
export const TINY_MODEL_CHARACTERS = [...'我你他她们的是了在有人这那中大小上下个不和好吗么怎样什如何去来天年多少请问为谁'];

export interface TinyModelOptions {
  hidden?: number;
  layers?: number;
  heads?: number;
  seed?: number;
  /** Tokens after [PAD], [UNK], [CLS], [SEP]; TINY_MODEL_CHARACTERS by default. */
  tokens?: readonly string[];
  /**
   * Spread of the random weights; larger than BERT's 0.02 so that a random model still gives
   * texts clearly different vectors.
   */
  initializerRange?: number;
}

export interface TinyModel {
  dir: string;
  config: BertConfig;
  /** The same files named for --config, --checkpoint and --vocab. */
  configPath: string;
  checkpointPrefix: string;
  vocabPath: string;
}

/** Writes a randomly initialised BERT small enough for CLI tests as a `train --out` directory. */
export function writeTinyModel(dir: string, options: TinyModelOptions = {}): TinyModel {
  const tokens = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', ...(options.tokens ?? TINY_MODEL_CHARACTERS)];
  const { vocab } = buildVocab(tokens);
  const hidden = options.hidden ?? 16;
  const config = parseBertConfig({
    vocab_size: vocab.tokens.length,
    hidden_size: hidden,
    num_hidden_layers: options.layers ?? 1,
    num_attention_heads: options.heads ?? 2,
    intermediate_size: 2 * hidden,
    max_position_embeddings: 64,
    type_vocab_size: 2,
    initializer_range: options.initializerRange ?? 0.3,
  }, 'tiny model config');
  const arrays = randomWeightArrays(config, options.seed ?? 7);
  const weights = new Map(bertParameterShapes(config).map(({ name, shape }) => [name, { shape, data: arrays.get(name) as Float32Array }]));
  writeModelDir(dir, { config, vocab, weights });
  return {
    dir,
    config,
    configPath: join(dir, MODEL_FILES.config),
    checkpointPrefix: join(dir, MODEL_FILES.checkpoint),
    vocabPath: join(dir, MODEL_FILES.vocab),
  };
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

const cliEntry = fileURLToPath(new URL('../../../dist/cli/index.js', import.meta.url));

/** Runs `node dist/cli ARGS` (build with `tsc -p tsconfig.json` first). */
export function runCli(args: readonly string[], options: { input?: string } = {}): CliResult {
  const result = spawnSync(process.execPath, [cliEntry, ...args], { encoding: 'utf8', input: options.input, timeout: 60000 });
  if (result.error) throw new Error(`node dist/cli ${args.join(' ')} did not finish: ${result.error.message}`);
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The lines a failed command printed on stderr after the GPU's own start-up notes. */
export function errorLines(result: CliResult): string[] {
  return result.stderr.split('\n').filter((line) => line !== '' && !/^Warning: |^adapter: /.test(line));
}
