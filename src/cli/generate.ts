import { cacheBytesPerToken } from '../generate/kv-decoder.js';
import { generateParaphrases, type GenerateOptions, type GenerateResult } from '../generate/generate.js';
import { GenerationInterrupted } from '../generate/sample-search.js';
import type { SimBert } from '../model/bert.js';
import { Tokenizer } from '../model/tokenizer.js';
import { loadTextLines } from '../node/data-files.js';
import { wordPieceCounter } from '../train/data.js';
import { encodeTexts } from '../train/encode.js';
import { UsageError, type CommandSpec, type ParsedArgs } from './args.js';
import type { Command } from './command.js';
import { writeStdout } from './encoding-support.js';
import { instantiate, loadModelFromFlags, MEMORY_FLAG, MODEL_FLAGS, openGpu } from './model-flags.js';

/** Rows (inputs x samples) decoded together at most; more inputs decode in successive batches. */
const ROWS_PER_BATCH = 1600;

const spec: CommandSpec = {
  name: 'generate',
  summary: "paraphrases of texts from the UniLM head (SimBERT's gen_synonyms), reranked by cosine",
  usage: "node dist/cli generate (--model DIR | --config FILE --checkpoint PREFIX --vocab FILE) (--text TEXT | --texts FILE) [--n 100 --topk 5 --k 20]",
  details: [
    'Each text is encoded as [CLS] text [SEP] (segment 0, cut to --maxlen word pieces as encode does, with',
    'a note on stderr) and the seq2seq head writes segment 1 one token at a time, with every layer\'s keys',
    'and values cached on the GPU, until [SEP] or --maxlen tokens. By default --n sequences are sampled',
    'per text (top-k, then top-p, at --temperature; seeded, so a run repeats), duplicates and the text',
    'itself are dropped, and the --k candidates whose pooled vectors are closest to the text\'s (cosine)',
    'are printed. --greedy or --beam B returns the one best sequence instead, even when it equals the text.',
    '--texts FILE (one text per line) decodes many texts in one batch.',
    '',
    '--format jsonl prints one line per text: {"text", "candidates": [{"text", "ids", "cosine"}], "seconds"}',
    '(ids: the generated ids in the model\'s vocabulary, without [SEP]; seconds: that text\'s decoding and',
    'rerank, model loading excluded). --format text prints a ranked list with the cosines.',
  ].join('\n'),
  flags: [
    ...MODEL_FLAGS.filter((flag) => flag.name !== 'maxlen'),
    { name: 'text', kind: 'string', help: 'one text to paraphrase', placeholder: 'TEXT' },
    { name: 'texts', kind: 'string', help: 'texts to paraphrase, one per line', placeholder: 'FILE' },
    { name: 'n', kind: 'integer', help: 'sequences sampled per text', default: 100, placeholder: 'N' },
    { name: 'topk', kind: 'integer', help: 'sample among the k most probable tokens', default: 5, placeholder: 'K' },
    { name: 'topp', kind: 'number', help: 'then among the most probable tokens reaching this probability, in (0, 1]', default: 1, placeholder: 'P' },
    { name: 'temperature', kind: 'number', help: 'logits are divided by it before everything else', default: 1, placeholder: 'T' },
    { name: 'maxlen', kind: 'integer', help: 'most tokens generated per sequence; texts are cut to it too', default: 32, placeholder: 'N' },
    { name: 'min-len', kind: 'integer', help: '[SEP] cannot end a sequence before this many tokens', default: 0, placeholder: 'N' },
    { name: 'k', kind: 'integer', help: 'candidates printed per text', default: 20, placeholder: 'K' },
    { name: 'seed', kind: 'integer', help: 'seed of the sampling', default: 0, placeholder: 'N' },
    { name: 'greedy', kind: 'boolean', help: 'the most probable token at each step (one sequence)' },
    { name: 'beam', kind: 'integer', help: 'beam search of width B (one sequence)', placeholder: 'B' },
    { name: 'length-penalty', kind: 'number', help: 'beam hypotheses compared by score / length^A (0: summed log-probabilities)', default: 0, placeholder: 'A' },
    { name: 'no-repeat-ngram', kind: 'integer', help: 'no n-gram of this size twice in a sequence or copied from the text (0: off)', default: 0, placeholder: 'N' },
    { name: 'format', kind: 'string', help: 'text (a ranked list) or jsonl (one JSON object per text)', default: 'text', placeholder: 'text|jsonl' },
    MEMORY_FLAG,
  ],
};

function checkFlags(args: ParsedArgs): Omit<GenerateOptions, 'signal'> & { format: 'text' | 'jsonl' } {
  const flag = (name: string) => args.flags[name] as number;
  const fail = (message: string): never => {
    throw new UsageError(message, spec.name);
  };
  const beam = args.flags.beam as number | undefined;
  const greedy = args.flags.greedy === true;
  if (greedy && beam !== undefined) fail('give at most one of --greedy and --beam B');
  const n = flag('n');
  const k = flag('k');
  if (n < 1) fail(`--n must be at least 1, got ${n}`);
  if (k < 1) fail(`--k must be at least 1, got ${k}`);
  if (k > n) fail(`--k ${k} is larger than --n ${n}: at most n candidates can come out`);
  if (flag('topk') < 1) fail(`--topk must be at least 1, got ${flag('topk')}`);
  const topp = flag('topp');
  if (!(topp > 0 && topp <= 1)) fail(`--topp must be in (0, 1], got ${topp}`);
  if (!(flag('temperature') > 0)) fail(`--temperature must be greater than 0, got ${flag('temperature')}`);
  if (flag('maxlen') < 1) fail(`--maxlen must be at least 1, got ${flag('maxlen')}`);
  if (flag('min-len') < 0 || flag('min-len') > flag('maxlen')) fail(`--min-len must be in [0, --maxlen ${flag('maxlen')}], got ${flag('min-len')}`);
  if (beam !== undefined && beam < 1) fail(`--beam must be at least 1, got ${beam}`);
  if (flag('length-penalty') < 0) fail(`--length-penalty must be at least 0, got ${flag('length-penalty')}`);
  if (flag('no-repeat-ngram') < 0) fail(`--no-repeat-ngram must be at least 0, got ${flag('no-repeat-ngram')}`);
  const format = args.flags.format as string;
  if (format !== 'text' && format !== 'jsonl') fail(`--format must be text or jsonl, got '${format}'`);
  return {
    mode: greedy ? 'greedy' : beam !== undefined ? 'beam' : 'sample',
    n, k, topk: flag('topk'), topp, temperature: flag('temperature'), maxlen: flag('maxlen'), minLen: flag('min-len'),
    seed: flag('seed'), beam: beam ?? 1, lengthPenalty: flag('length-penalty'), noRepeatNgram: flag('no-repeat-ngram'),
    format: format as 'text' | 'jsonl',
  };
}

function formatText(result: GenerateResult): string {
  const lines = [`${result.text}  (${result.candidates.length} candidates, ${result.seconds.toFixed(2)} s)`];
  result.candidates.forEach((c, rank) => lines.push(`  ${String(rank + 1).padStart(3)}  ${c.cosine.toFixed(4)}  ${c.text}`));
  return `${lines.join('\n')}\n\n`;
}

/**
 * The texts to paraphrase, each checked: not empty, cut to maxlen word pieces with a note, and
 * short enough that the source and maxlen generated tokens fit the position embeddings.
 */
function readTexts(args: ParsedArgs, tokenizer: Tokenizer, model: { maxPositionEmbeddings: number }, maxlen: number): string[] {
  const text = args.flags.text as string | undefined;
  const path = args.flags.texts as string | undefined;
  if ((text === undefined) === (path === undefined)) throw new UsageError('give exactly one of --text TEXT or --texts FILE', spec.name);
  const count = wordPieceCounter(tokenizer);
  let texts: string[];
  if (text !== undefined) {
    if (count(text) === 0) throw new UsageError(`--text ${JSON.stringify(text)} is empty after tokenizing; it needs at least one word piece`, spec.name);
    texts = [text];
  } else {
    texts = loadTextLines(path as string, count);
  }
  texts.forEach((t, i) => {
    const where = text !== undefined ? 'the text' : `${path}: line ${i + 1}`;
    const pieces = count(t);
    if (pieces + 2 > maxlen) console.error(`note: ${where} has ${pieces} word pieces; cut to ${Math.max(0, maxlen - 2)} (--maxlen ${maxlen}) as encode does`);
    const sourceLength = Math.min(pieces + 2, maxlen);
    if (sourceLength + maxlen > model.maxPositionEmbeddings) {
      throw new UsageError(
        `${where}: ${sourceLength} source tokens plus --maxlen ${maxlen} generated ones pass max_position_embeddings ${model.maxPositionEmbeddings}; lower --maxlen`,
        spec.name,
      );
    }
  });
  return texts;
}

async function run(args: ParsedArgs): Promise<number> {
  const options = checkFlags(args);
  const loaded = await loadModelFromFlags(args, spec.name);
  const texts = readTexts(args, new Tokenizer(loaded.vocab), loaded.config, options.maxlen);
  await openGpu(args);
  const { model, tokenizer } = instantiate(loaded);
  const rowsPerText = options.mode === 'sample' ? options.n : options.mode === 'beam' ? options.beam : 1;
  const perBatch = Math.max(1, Math.floor(ROWS_PER_BATCH / rowsPerText));

  const controller = new AbortController();
  const interrupt = () => controller.abort();
  process.once('SIGINT', interrupt);
  // Printed once the handler is in place: a caller may interrupt as soon as it sees this line.
  console.error(`key/value cache: ${cacheBytesPerToken(model.config)} bytes per row and token; ${Math.min(perBatch, texts.length) * rowsPerText} rows at once`);
  try {
    for (let start = 0; start < texts.length; start += perBatch) {
      const batch = texts.slice(start, start + perBatch);
      const results = await generateParaphrases(model, tokenizer, batch, { ...options, signal: controller.signal }, encoderFor(tokenizer));
      // Whole lines only: an interrupted run leaves every line it printed complete.
      await writeStdout(results.map((r) => (options.format === 'jsonl' ? `${JSON.stringify({ text: r.text, candidates: r.candidates, seconds: r.seconds })}\n` : formatText(r))).join(''));
      if (controller.signal.aborted) throw new GenerationInterrupted();
    }
  } catch (error) {
    if (error instanceof GenerationInterrupted) {
      console.error(`simbert generate: interrupted; the texts already printed are complete`);
      return 130;
    }
    throw error;
  } finally {
    process.removeListener('SIGINT', interrupt);
  }
  return 0;
}

/** Each candidate encoded alone for its pooled vector, as the similarity loss and eval use it. */
function encoderFor(tokenizer: Tokenizer) {
  return (model: SimBert, texts: string[]) => encodeTexts(model, tokenizer, texts, { maxlen: model.config.maxPositionEmbeddings });
}

export const generateCommand: Command = { spec, run };
