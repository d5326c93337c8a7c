import { SeededRandom } from './random.js';
import { bertParameterShapes, validateCheckpointAgainstConfig, type BertConfig, type CheckpointSource } from './config.js';
import { initialValues } from './parameters.js';

export interface LoadOptions {
  /** Original vocabulary ids to keep (bert4keras keep_tokens): rows of the word embeddings and entries of the output bias. */
  keepTokens?: readonly number[] | null;
  /** Initialise a missing pooler or MLM head instead of failing. */
  allowMissing?: boolean;
  /** Seed for initialising missing heads. */
  seed?: number;
  warn?: (message: string) => void;
}

function gatherRows(data: Float32Array, rowLength: number, rows: readonly number[], name: string, available: number): Float32Array {
  const out = new Float32Array(rows.length * rowLength);
  rows.forEach((row, i) => {
    if (!Number.isInteger(row) || row < 0 || row >= available) throw new Error(`keep_tokens id ${row} is outside ${name} (${available} rows)`);
    out.set(data.subarray(row * rowLength, (row + 1) * rowLength), i * rowLength);
  });
  return out;
}

/** Float32 tensors by TF name: a CheckpointReader, or another format's weights renamed (src/formats). */
export interface WeightSource extends CheckpointSource {
  readFloat32(name: string): Float32Array;
}

/**
 * Reads every BERT weight of `config` from a TensorFlow checkpoint (validated first, so a missing
 * or misshapen tensor is an error naming it), applying keep_tokens to the vocabulary-sized tensors.
 * Returns host arrays keyed by TF name, shaped for `keepTokens.length` (or the config's) vocabulary.
 */
export function loadWeightArrays(reader: WeightSource, config: BertConfig, options: LoadOptions = {}): Map<string, Float32Array> {
  const validation = validateCheckpointAgainstConfig(reader, config, { allowMissing: options.allowMissing });
  for (const warning of validation.warnings) options.warn?.(`warning: ${warning}`);
  const random = new SeededRandom(options.seed ?? 0);
  const keep = options.keepTokens ?? null;
  const arrays = new Map<string, Float32Array>();
  for (const parameter of bertParameterShapes(config)) {
    let data = reader.get(parameter.name) ? reader.readFloat32(parameter.name) : initialValues(parameter, config, random);
    if (keep && parameter.name === 'bert/embeddings/word_embeddings') {
      data = gatherRows(data, config.hiddenSize, keep, parameter.name, config.vocabSize);
    } else if (keep && parameter.name === 'cls/predictions/output_bias') {
      data = gatherRows(data, 1, keep, parameter.name, config.vocabSize);
    }
    arrays.set(parameter.name, data);
  }
  return arrays;
}
