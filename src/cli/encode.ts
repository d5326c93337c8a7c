import { Tokenizer } from '../model/tokenizer.js';
import { loadTextLines } from '../node/data-files.js';
import { wordPieceCounter } from '../train/data.js';
import { encodeTexts } from '../train/encode.js';
import { writeFileAtomically, writeNpyFloat32 } from '../node/npy-file.js';
import { requireFlag, UsageError, type CommandSpec, type ParsedArgs } from './args.js';
import type { Command } from './command.js';
import { BATCH_SIZE_FLAG, batchSizeFlag, checkFinite, checkOutputDirectory, encodingProgress, writeStdout } from './encoding-support.js';
import { fitMaxlen, instantiateForInference, loadModelFromFlags, maxlenFlag, MEMORY_FLAG, MODEL_FLAGS, openGpu } from './model-flags.js';

const spec: CommandSpec = {
  name: 'encode',
  summary: 'encode texts into pooled sentence vectors (.npy or JSON Lines)',
  usage: 'node dist/cli encode (--model DIR | --config FILE --checkpoint PREFIX --vocab FILE) --texts FILE (--out FILE.npy | --format jsonl)',
  details: [
    'Each line of --texts is one text (UTF-8, LF or CRLF); an empty line, or a text with no word',
    'pieces, stops with the file and line. Each text is encoded alone ([CLS] text [SEP], segment 0)',
    'and its vector is the linear pooler output on [CLS], as the similarity loss and eval use it.',
    '',
    '--out FILE.npy writes a float32 array of shape [texts, hidden_size] in NumPy .npy format',
    '(np.load reads it; row i is line i). --format jsonl prints one {"text", "vector"} object per',
    'line on stdout instead, or writes them to --out FILE when given. Files are written to a',
    'temporary name and renamed, so a failed run leaves no partial file.',
  ].join('\n'),
  flags: [
    ...MODEL_FLAGS,
    { name: 'texts', kind: 'string', help: 'texts to encode, one per line', placeholder: 'FILE' },
    { name: 'out', kind: 'string', help: 'output file (.npy unless --format jsonl)', placeholder: 'FILE' },
    { name: 'format', kind: 'string', help: 'npy (needs --out) or jsonl (stdout, or --out)', placeholder: 'npy|jsonl' },
    BATCH_SIZE_FLAG,
    MEMORY_FLAG,
  ],
};

async function run(args: ParsedArgs): Promise<number> {
  const textsPath = requireFlag<string>(args, 'texts', spec.name);
  const out = args.flags.out as string | undefined;
  const format = (args.flags.format as string | undefined) ?? (out !== undefined ? 'npy' : undefined);
  if (format === undefined) {
    throw new UsageError('say where the vectors go: --out FILE.npy for a .npy file, or --format jsonl for JSON Lines on stdout', spec.name);
  }
  if (format !== 'npy' && format !== 'jsonl') throw new UsageError(`--format must be npy or jsonl, got '${format}'`, spec.name);
  if (format === 'npy' && out === undefined) throw new UsageError('--format npy needs --out FILE.npy (a binary array is not written to stdout)', spec.name);
  const batchSize = batchSizeFlag(args, spec.name);
  const maxlen = maxlenFlag(args, spec.name);
  if (out !== undefined) checkOutputDirectory(out);

  const loaded = await loadModelFromFlags(args, spec.name);
  const texts = loadTextLines(textsPath, wordPieceCounter(new Tokenizer(loaded.vocab)));
  await openGpu(args);
  const { model, tokenizer } = instantiateForInference(loaded);
  const vectors = await encodeTexts(model, tokenizer, texts, { maxlen: fitMaxlen(maxlen, loaded), batchSize, onProgress: encodingProgress('encoded') });
  const hidden = model.config.hiddenSize;
  checkFinite(vectors, hidden, (row) => `${textsPath}: line ${row + 1}`);

  if (format === 'npy') {
    writeNpyFloat32(out as string, vectors, [texts.length, hidden]);
    console.error(`wrote ${out}: float32 [${texts.length}, ${hidden}]`);
    return 0;
  }
  const line = (i: number) => `${JSON.stringify({ text: texts[i], vector: Array.from(vectors.subarray(i * hidden, (i + 1) * hidden)) })}\n`;
  if (out !== undefined) {
    writeFileAtomically(out, texts.map((_, i) => line(i)).join(''));
    console.error(`wrote ${out}: ${texts.length} JSON lines of ${hidden} values`);
    return 0;
  }
  for (let start = 0; start < texts.length; start += 64) {
    let chunk = '';
    for (let i = start; i < Math.min(start + 64, texts.length); i++) chunk += line(i);
    await writeStdout(chunk);
  }
  return 0;
}

export const encodeCommand: Command = { spec, run };
