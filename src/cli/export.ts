import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { hfFolderFiles, sentenceTransformersFiles } from '../formats/hf-export.js';
import { bertParameterShapes } from '../model/config.js';
import type { LoadedModel } from '../model/model-folder.js';
import { nodeFileOps, writeDurably } from '../node/file-ops.js';
import { encodeModelFiles } from '../train/model-file-bytes.js';
import { requireFlag, UsageError, type CommandSpec, type ParsedArgs } from './args.js';
import type { Command } from './command.js';
import { loadModelFromFlags, maxlenFlag, MODEL_FLAGS } from './model-flags.js';

const FORMATS = ['hf', 'sentence-transformers', 'tf'] as const;
type ExportFormat = (typeof FORMATS)[number];

const spec: CommandSpec = {
  name: 'export',
  summary: 'write a model as a HuggingFace, sentence-transformers or TensorFlow folder',
  usage: 'node dist/cli export (--model DIR | --config FILE --checkpoint PREFIX --vocab FILE) --format hf|sentence-transformers|tf --out DIR',
  details: [
    'hf: config.json, the simplified vocab.txt in use, model.safetensors (BertForMaskedLM keys, float32),',
    'tokenizer_config.json and special_tokens_map.json: transformers AutoModel / AutoTokenizer read it.',
    'sentence-transformers: the hf folder plus modules.json, CLS pooling (1_Pooling) and the linear pooler',
    'as a Dense layer with identity activation (2_Dense), so SentenceTransformer(DIR).encode(texts) gives',
    "the vectors of this tool's encode (HuggingFace's own BertModel pooler adds a tanh, SimBERT's does not).",
    '--maxlen sets its max_seq_length. tf: bert_config.json, vocab.txt and bert_model.ckpt.* as train',
    'writes them, without optimizer slots. --out must not exist; the folder is written under a temporary',
    'name and renamed into place.',
  ].join('\n'),
  flags: [
    ...MODEL_FLAGS,
    { name: 'format', kind: 'string', help: 'hf, sentence-transformers or tf', placeholder: 'FORMAT' },
    { name: 'out', kind: 'string', help: 'the folder to create', placeholder: 'DIR' },
  ],
};

/** The exported folder's files, as chunks by relative path. */
function exportFiles(format: ExportFormat, loaded: LoadedModel, maxlen: number): Map<string, readonly Uint8Array[]> {
  if (format === 'tf') {
    const shapes = bertParameterShapes(loaded.config, loaded.vocab.tokens.length);
    const weights = new Map(shapes.map(({ name, shape }) => [name, { shape, data: loaded.weights.get(name) as Float32Array }]));
    return new Map(encodeModelFiles({ config: loaded.config, vocab: loaded.vocab, weights }).map((file) => [file.name, file.chunks]));
  }
  const model = { config: loaded.config, vocab: loaded.vocab, weights: loaded.weights };
  const files = format === 'hf' ? hfFolderFiles(model) : sentenceTransformersFiles(model, maxlen);
  return new Map([...files].map(([name, bytes]) => [name, [bytes]]));
}

/** Writes every file into a sibling temporary folder, flushed, then renames it to `out`: the folder appears whole or not at all. */
function writeFolder(out: string, files: Map<string, readonly Uint8Array[]>): void {
  const ops = nodeFileOps;
  const temporary = `${out}.export-${process.pid}`;
  ops.remove(temporary);
  try {
    ops.mkdir(temporary);
    for (const [name, chunks] of files) {
      ops.mkdir(dirname(join(temporary, name)));
      writeDurably(ops, join(temporary, name), chunks);
    }
    ops.fsyncDirectory(temporary);
    ops.rename(temporary, out);
  } catch (error) {
    ops.remove(temporary);
    throw error;
  }
  ops.fsyncDirectory(dirname(out));
}

async function run(args: ParsedArgs): Promise<number> {
  const format = requireFlag<string>(args, 'format', spec.name);
  if (!(FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, got '${format}'`, spec.name);
  const out = requireFlag<string>(args, 'out', spec.name);
  const maxlen = maxlenFlag(args, spec.name);
  if (existsSync(out)) throw new Error(`${out} already exists; export creates a new folder`);
  if (!existsSync(dirname(out))) throw new Error(`${dirname(out)} does not exist`);
  const loaded = await loadModelFromFlags(args, spec.name);
  writeFolder(out, exportFiles(format as ExportFormat, loaded, maxlen));
  console.error(`wrote ${out}: ${format} folder of ${loaded.description} (${loaded.config.numHiddenLayers} layers, hidden ${loaded.config.hiddenSize}, vocabulary ${loaded.vocab.tokens.length})`);
  return 0;
}

export const exportCommand: Command = { spec, run };
