import { once } from 'node:events';
import { loadVocab } from '../node/vocab-file.js';
import { Tokenizer } from '../model/tokenizer.js';
import { requireFlag, UsageError, type CommandSpec, type ParsedArgs } from './args.js';
import type { Command } from './command.js';

const spec: CommandSpec = {
  name: 'tokenize',
  summary: 'tokenize lines of stdin as bert4keras does and print tokens, ids and segment ids',
  usage: 'node dist/cli tokenize --vocab FILE [--simplified] [--maxlen N] < texts.txt',
  details: [
    'Each input line is a text, or two texts separated by a tab. Each output line is a JSON object',
    '{"tokens": [...], "ids": [...], "segments": [...]} for [CLS] text1 [SEP] (text2 [SEP]),',
    'lower-cased and split into word pieces as bert4keras Tokenizer(do_lower_case=True) does.',
  ].join('\n'),
  flags: [
    { name: 'vocab', kind: 'string', placeholder: 'FILE', help: 'BERT vocab.txt, one token per line' },
    { name: 'simplified', kind: 'boolean', help: 'use the simplified vocabulary (ids as in a model trained with keep_tokens)' },
    { name: 'maxlen', kind: 'integer', placeholder: 'N', help: 'truncate each output to at most N tokens (the longer text loses word pieces first)' },
  ],
};

/**
 * The lines of a text stream: split on '\n', a '\r' before it removed, and a last line
 * without a newline still yielded. Chunks may end inside a line or a UTF-8 sequence.
 */
export async function* readLines(input: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let pending = '';
  const withoutCarriageReturn = (line: string) => (line.endsWith('\r') ? line.slice(0, -1) : line);
  for await (const chunk of input) {
    pending += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) yield withoutCarriageReturn(line);
  }
  pending += decoder.decode();
  if (pending !== '') yield withoutCarriageReturn(pending);
}

async function run(args: ParsedArgs): Promise<number> {
  const vocabPath = requireFlag<string>(args, 'vocab', spec.name);
  const maxlen = args.flags.maxlen as number | undefined;
  if (maxlen !== undefined && maxlen < 2) throw new UsageError(`--maxlen must be at least 2 (room for [CLS] and [SEP]), got ${maxlen}`, spec.name);
  const { vocab } = loadVocab(vocabPath, { simplified: args.flags.simplified === true });
  const tokenizer = new Tokenizer(vocab);

  let lineNumber = 0;
  for await (const line of readLines(process.stdin)) {
    lineNumber++;
    const texts = line.split('\t');
    if (texts.length > 2) {
      throw new Error(`stdin line ${lineNumber} has ${texts.length} tab-separated fields; expected text or text1<TAB>text2`);
    }
    let encoding;
    try {
      encoding = tokenizer.encode(texts[0], texts[1], maxlen);
    } catch (error) {
      throw new Error(`stdin line ${lineNumber}: ${(error as Error).message}`);
    }
    const output = `${JSON.stringify({ tokens: encoding.tokens, ids: encoding.ids, segments: encoding.segments })}\n`;
    if (!process.stdout.write(output)) await once(process.stdout, 'drain');
  }
  return 0;
}

export const tokenizeCommand: Command = { spec, run };
