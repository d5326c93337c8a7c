/** A model loaded into a page: encode, similar and generate on the page's GPU. */
import type { FileFolder } from '../formats/folder.js';
import { generateParaphrases, type GenerateOptions, type GenerateResult } from '../generate/generate.js';
import type { Gpu } from '../gpu/device.js';
import { SimBert } from '../model/bert.js';
import type { BertConfig } from '../model/config.js';
import { convertForInference } from '../model/inference.js';
import { loadAnyModelFolder } from '../formats/model-folder-kinds.js';
import { uploadWeights } from '../model/parameters.js';
import { Tokenizer } from '../model/tokenizer.js';
import { encodeTexts } from '../train/encode.js';
import { CosineIndex } from '../train/search.js';
import { describeAdapter, type AdapterInfo } from './adapter-info.js';
import { openEngine, type EngineOptions } from './engine.js';
import { PickedFilesFolder } from './picked-files.js';
import { UrlFolder } from './url-folder.js';

export interface EncodeOptions {
  /** Maximum tokens per text, [CLS] and [SEP] included (default 128, or the model's max_position_embeddings when smaller, as the CLI). */
  maxlen?: number;
  /** Texts per GPU batch (default 64, as the CLI). */
  batchSize?: number;
}

export interface SimilarOptions extends EncodeOptions {
  /** How many results (default 10, as the CLI's --top-k). */
  k?: number;
}

/** One result of `similar`, as a line of `simbert similar --format jsonl` gives it. */
export interface SimilarHit {
  text: string;
  score: number;
  /** 1-based position of the text in the corpus. */
  line: number;
}

/** `simbert generate`'s options, with its defaults (n 100, k 20, topk 5, topp 1, temperature 1, maxlen 32, seed 0). */
export type ParaphraseOptions = Partial<Omit<GenerateOptions, 'signal'>> & { signal?: AbortSignal };

const GENERATE_DEFAULTS: Omit<GenerateOptions, 'signal'> = {
  mode: 'sample', n: 100, k: 20, topk: 5, topp: 1, temperature: 1, maxlen: 32, minLen: 0, seed: 0, beam: 1, lengthPenalty: 0, noRepeatNgram: 0,
};

/** The checks `simbert generate` makes of its flags, with the same messages (option names without `--`). */
function checkGenerateOptions(options: ParaphraseOptions): GenerateOptions {
  const o = { ...GENERATE_DEFAULTS, ...options };
  const fail = (message: string): never => {
    throw new Error(message);
  };
  if (!['sample', 'greedy', 'beam'].includes(o.mode)) fail(`mode must be sample, greedy or beam, got '${o.mode}'`);
  if (!(o.n >= 1)) fail(`n must be at least 1, got ${o.n}`);
  if (!(o.k >= 1)) fail(`k must be at least 1, got ${o.k}`);
  if (o.k > o.n) fail(`k ${o.k} is larger than n ${o.n}: at most n candidates can come out`);
  if (!(o.topk >= 1)) fail(`topk must be at least 1, got ${o.topk}`);
  if (!(o.topp > 0 && o.topp <= 1)) fail(`topp must be in (0, 1], got ${o.topp}`);
  if (!(o.temperature > 0)) fail(`temperature must be greater than 0, got ${o.temperature}`);
  if (!(o.maxlen >= 1)) fail(`maxlen must be at least 1, got ${o.maxlen}`);
  if (!(o.minLen >= 0 && o.minLen <= o.maxlen)) fail(`minLen must be in [0, maxlen ${o.maxlen}], got ${o.minLen}`);
  if (!(o.beam >= 1)) fail(`beam must be at least 1, got ${o.beam}`);
  if (!(o.lengthPenalty >= 0)) fail(`lengthPenalty must be at least 0, got ${o.lengthPenalty}`);
  if (!(o.noRepeatNgram >= 0)) fail(`noRepeatNgram must be at least 0, got ${o.noRepeatNgram}`);
  return o;
}

function folderOf(source: string | URL | FileFolder | Iterable<File>): FileFolder {
  if (typeof source === 'string' || source instanceof URL) return new UrlFolder(String(source));
  if (typeof (source as FileFolder).read === 'function') return source as FileFolder;
  return new PickedFilesFolder(source as Iterable<File>);
}

function checkTexts(texts: readonly string[], tokenizer: Tokenizer): void {
  texts.forEach((text, index) => {
    if (typeof text !== 'string') throw new Error(`text ${index + 1} is not a string`);
    if (tokenizer.tokenize(text).length <= 2) {
      throw new Error(`text ${index + 1} ${JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text)} is empty after tokenizing; every text needs at least one word piece`);
    }
  });
}

function checkMaxlen(maxlen: number, config: BertConfig): number {
  if (!(Number.isInteger(maxlen) && maxlen >= 3)) throw new Error(`maxlen must be an integer of at least 3, got ${maxlen}`);
  if (maxlen > config.maxPositionEmbeddings) throw new Error(`maxlen ${maxlen} exceeds the model's max_position_embeddings ${config.maxPositionEmbeddings}`);
  return maxlen;
}

function checkNonFinite(vectors: Float32Array, hidden: number, texts: readonly string[]): void {
  const bad = vectors.findIndex((value) => !Number.isFinite(value));
  if (bad >= 0) {
    throw new Error(`the model produced a non-finite vector (${vectors[bad]}) for the text ${JSON.stringify(texts[Math.floor(bad / hidden)])}; are the weights corrupt?`);
  }
}

/** A model on the page's GPU. */
export class BrowserModel {
  private disposed = false;

  constructor(
    private readonly gpu: Gpu,
    private readonly model: SimBert,
    private readonly tokenizer: Tokenizer,
    /** Where the model came from: its base URL or folder name. */
    readonly source: string,
  ) {}

  get config(): BertConfig {
    return this.model.config;
  }

  get adapterInfo(): AdapterInfo {
    return describeAdapter(this.gpu);
  }

  /** Bytes of GPU memory the engine holds now, and its cap. */
  memory(): { held: number; inUse: number; limit: number } {
    const stats = this.gpu.pool.snapshot();
    return { held: stats.bytesHeld, inUse: stats.bytesInUse, limit: this.gpu.pool.capBytes };
  }

  /** The pooled vector of each text encoded alone, as `simbert encode` gives it. */
  async encode(texts: readonly string[], options: EncodeOptions = {}): Promise<Float32Array[]> {
    const vectors = await this.encodeRows(texts, options);
    const hidden = this.model.config.hiddenSize;
    return texts.map((_, row) => vectors.slice(row * hidden, (row + 1) * hidden));
  }

  /** The `k` texts of `corpus` most similar to `query` by cosine of pooled vectors, best first, as `simbert similar` ranks them. */
  async similar(query: string, corpus: readonly string[], options: SimilarOptions = {}): Promise<SimilarHit[]> {
    const k = options.k ?? 10;
    if (!(Number.isInteger(k) && k >= 1)) throw new Error(`k must be a positive integer, got ${k}`);
    if (corpus.length === 0) throw new Error('the corpus is empty; give at least one text');
    // As the CLI: each distinct text once, corpus and query in the same batches.
    const unique = [...new Set([...corpus, query])];
    const rowOf = new Map(unique.map((text, row) => [text, row]));
    const vectors = await this.encodeRows(unique, options);
    const hidden = this.model.config.hiddenSize;
    const vectorOf = (text: string) => vectors.subarray(rowOf.get(text)! * hidden, (rowOf.get(text)! + 1) * hidden);
    const corpusVectors = new Float32Array(corpus.length * hidden);
    corpus.forEach((text, line) => corpusVectors.set(vectorOf(text), line * hidden));
    const index = new CosineIndex(corpusVectors, hidden);
    return index.search(vectorOf(query), k).map((hit) => ({ text: corpus[hit.index] as string, score: hit.score, line: hit.index + 1 }));
  }

  /**
   * Paraphrases of `text` from the UniLM head, reranked by cosine with the text, as
   * `simbert generate` gives them (same options and defaults; `signal` stops it).
   */
  async generate(text: string, options: ParaphraseOptions = {}): Promise<GenerateResult> {
    if (this.disposed) throw new Error('the model was disposed');
    const checked = checkGenerateOptions(options);
    checkTexts([text], this.tokenizer);
    const pieces = this.tokenizer.tokenize(text).length - 2;
    const sourceLength = Math.min(pieces + 2, checked.maxlen);
    if (sourceLength + checked.maxlen > this.model.config.maxPositionEmbeddings) {
      throw new Error(`the text: ${sourceLength} source tokens plus maxlen ${checked.maxlen} generated ones pass max_position_embeddings ${this.model.config.maxPositionEmbeddings}; lower maxlen`);
    }
    const encode = (model: SimBert, texts: string[]) => encodeTexts(model, this.tokenizer, texts, { maxlen: model.config.maxPositionEmbeddings });
    const [result] = await generateParaphrases(this.model, this.tokenizer, [text], checked, encode);
    return result as GenerateResult;
  }

  /** Releases the model's weights on the GPU; the model cannot be used after. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const weight of this.model.weights.values()) weight.release();
    this.gpu.pool.trim();
  }

  private async encodeRows(texts: readonly string[], options: EncodeOptions): Promise<Float32Array> {
    if (this.disposed) throw new Error('the model was disposed');
    checkTexts(texts, this.tokenizer);
    // As the CLI: the default 128 is lowered to what the model takes; a larger given value is refused.
    const maxlen = checkMaxlen(options.maxlen ?? Math.min(128, this.model.config.maxPositionEmbeddings), this.model.config);
    const batchSize = options.batchSize ?? 64;
    if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
    const vectors = await encodeTexts(this.model, this.tokenizer, texts, { maxlen, batchSize });
    checkNonFinite(vectors, this.model.config.hiddenSize, texts);
    return vectors;
  }
}

/**
 * Loads a model folder from a base URL or from the Files of a picked or dropped folder onto the
 * page's GPU: what `train --out` writes or a TensorFlow BERT folder (bert_config.json, vocab.txt,
 * bert_model.ckpt.index and its data shards), a HuggingFace folder or a sentence-transformers
 * folder, as `--model DIR` accepts them.
 */
export async function loadModel(source: string | URL | Iterable<File> | FileFolder, options: EngineOptions = {}): Promise<BrowserModel> {
  const folder = folderOf(source);
  const loaded = await loadAnyModelFolder(folder);
  const gpu = await openEngine(options);
  const weights = uploadWeights(loaded.config, loaded.weights);
  // A page's model only runs inference: its dense kernels are kept in the layout that runs fastest there.
  const model = convertForInference(new SimBert(loaded.config, weights));
  return new BrowserModel(gpu, model, new Tokenizer(loaded.vocab), folder.location);
}
