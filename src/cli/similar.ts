import { Tokenizer } from '../model/tokenizer.js';
import { loadTextLines } from '../node/data-files.js';
import { wordPieceCounter } from '../train/data.js';
import { encodeTexts } from '../train/encode.js';
import { CosineIndex, type SearchHit } from '../train/search.js';
import { UsageError, type CommandSpec, type ParsedArgs } from './args.js';
import type { Command } from './command.js';
import { BATCH_SIZE_FLAG, batchSizeFlag, checkFinite, encodingProgress, writeStdout } from './encoding-support.js';
import { fitMaxlen, instantiateForInference, loadModelFromFlags, maxlenFlag, MEMORY_FLAG, MODEL_FLAGS, openGpu } from './model-flags.js';

export interface SimilarResult {
  text: string;
  score: number;
  /** 1-based line of the text in the corpus file. */
  line: number;
}

const spec: CommandSpec = {
  name: 'similar',
  summary: 'find the corpus texts most similar to each query (cosine of pooled vectors)',
  usage: 'node dist/cli similar (--model DIR | --config FILE --checkpoint PREFIX --vocab FILE) --corpus FILE (--query TEXT | --queries FILE) [--top-k 5]',
  details: [
    'The corpus (one text per line) is encoded once; each query is encoded alone and compared with',
    'every corpus text by cosine similarity. For each query stdout gets one JSON line',
    '  {"query": "...", "results": [{"text": "...", "score": 0.93, "line": 12}, ...]}',
    'with the --top-k best corpus texts first (line is the 1-based corpus line; equal scores keep',
    'corpus order; fewer results when the corpus is smaller than k). --format table prints the same',
    'as a readable table.',
  ].join('\n'),
  flags: [
    ...MODEL_FLAGS,
    { name: 'corpus', kind: 'string', help: 'texts to search, one per line', placeholder: 'FILE' },
    { name: 'query', kind: 'string', help: 'one query text', placeholder: 'TEXT' },
    { name: 'queries', kind: 'string', help: 'query texts, one per line', placeholder: 'FILE' },
    { name: 'top-k', kind: 'integer', help: 'results per query', default: 5, placeholder: 'K' },
    { name: 'format', kind: 'string', help: 'jsonl (one JSON object per query) or table', default: 'jsonl', placeholder: 'jsonl|table' },
    BATCH_SIZE_FLAG,
    MEMORY_FLAG,
  ],
};

function formatTable(query: string, results: readonly SimilarResult[]): string {
  const rows = results.map((result, rank) => [String(rank + 1), result.score.toFixed(6), String(result.line), result.text]);
  const header = ['rank', 'score', 'line', 'text'];
  const widths = [0, 1, 2].map((column) => Math.max(header[column].length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]) => `  ${cells.slice(0, 3).map((cell, column) => cell.padStart(widths[column])).join('  ')}  ${cells[3]}`;
  return [`query: ${query}`, line(header), ...rows.map(line), ''].join('\n');
}

async function run(args: ParsedArgs): Promise<number> {
  const corpusPath = args.flags.corpus as string | undefined;
  if (corpusPath === undefined) throw new UsageError('--corpus is required', spec.name);
  const query = args.flags.query as string | undefined;
  const queriesPath = args.flags.queries as string | undefined;
  if ((query === undefined) === (queriesPath === undefined)) {
    throw new UsageError('give exactly one of --query TEXT or --queries FILE', spec.name);
  }
  const k = args.flags['top-k'] as number;
  if (k < 1) throw new UsageError(`--top-k must be at least 1, got ${k}`, spec.name);
  const format = args.flags.format as string;
  if (format !== 'jsonl' && format !== 'table') throw new UsageError(`--format must be jsonl or table, got '${format}'`, spec.name);
  const batchSize = batchSizeFlag(args, spec.name);
  const maxlen = maxlenFlag(args, spec.name);

  const loaded = await loadModelFromFlags(args, spec.name);
  const countTokens = wordPieceCounter(new Tokenizer(loaded.vocab));
  const corpus = loadTextLines(corpusPath, countTokens);
  let queries: string[];
  if (query !== undefined) {
    if (countTokens(query) === 0) throw new UsageError(`--query ${JSON.stringify(query)} is empty after tokenizing; it needs at least one word piece`, spec.name);
    queries = [query];
  } else {
    queries = loadTextLines(queriesPath as string, countTokens);
  }

  await openGpu(args);
  const { model, tokenizer } = instantiateForInference(loaded);
  // Each distinct text is encoded once, corpus and queries in the same batches.
  const unique = [...new Set([...corpus, ...queries])];
  const rowOf = new Map(unique.map((text, row) => [text, row]));
  const vectors = await encodeTexts(model, tokenizer, unique, { maxlen: fitMaxlen(maxlen, loaded), batchSize, onProgress: encodingProgress('encoded') });
  const hidden = model.config.hiddenSize;
  checkFinite(vectors, hidden, (row) => `the text ${JSON.stringify(unique[row])}`);
  const vectorOf = (text: string) => vectors.subarray(rowOf.get(text)! * hidden, (rowOf.get(text)! + 1) * hidden);

  const corpusVectors = new Float32Array(corpus.length * hidden);
  corpus.forEach((text, line) => corpusVectors.set(vectorOf(text), line * hidden));
  const index = new CosineIndex(corpusVectors, hidden);
  for (const text of queries) {
    const results = index.search(vectorOf(text), k).map((hit: SearchHit) => ({ text: corpus[hit.index], score: hit.score, line: hit.index + 1 }));
    await writeStdout(format === 'table' ? `${formatTable(text, results)}\n` : `${JSON.stringify({ query: text, results })}\n`);
  }
  return 0;
}

export const similarCommand: Command = { spec, run };
