/**
 * Google BERT's TensorFlow variable names and HuggingFace's BERT state-dict keys, both ways.
 * BertForMaskedLM keys carry `bert.` and `cls.` prefixes; BertModel keys are the `bert.` ones
 * without the prefix. HF linear weights are [out, in] where TF kernels are [in, out]; checkpoints
 * converted from TF long ago name LayerNorm parameters gamma/beta instead of weight/bias.
 */

export interface HfName {
  /** The BertForMaskedLM key. */
  name: string;
  /** Whether the value is the transpose of the TF kernel. */
  transpose: boolean;
}

/** The BertForMaskedLM key of a TF BERT variable (e.g. bert/encoder/layer_0/output/dense/kernel). */
export function hfNameOfTf(tfName: string): HfName {
  let name = tfName.replace(/\//g, '.').replace(/\.layer_(\d+)\./, '.layer.$1.');
  name = name.replace(/\.LayerNorm\.gamma$/, '.LayerNorm.weight').replace(/\.LayerNorm\.beta$/, '.LayerNorm.bias');
  if (name === 'cls.predictions.output_bias') return { name: 'cls.predictions.bias', transpose: false };
  if (name.endsWith('_embeddings')) return { name: `${name}.weight`, transpose: false };
  if (name.endsWith('.kernel')) return { name: `${name.slice(0, -'kernel'.length)}weight`, transpose: true };
  return { name, transpose: false };
}

const TF_PATTERNS: [RegExp, (match: RegExpExecArray) => HfName][] = [
  [/^bert\.embeddings\.(word|position|token_type)_embeddings\.weight$/, (m) => ({ name: `bert/embeddings/${m[1]}_embeddings`, transpose: false })],
  [/^cls\.predictions\.bias$/, () => ({ name: 'cls/predictions/output_bias', transpose: false })],
  [/^(.*)\.LayerNorm\.(weight|gamma)$/, (m) => ({ name: `${scope(m[1])}/LayerNorm/gamma`, transpose: false })],
  [/^(.*)\.LayerNorm\.(bias|beta)$/, (m) => ({ name: `${scope(m[1])}/LayerNorm/beta`, transpose: false })],
  [/^(.*\.(?:query|key|value|dense))\.weight$/, (m) => ({ name: `${scope(m[1])}/kernel`, transpose: true })],
  [/^(.*\.(?:query|key|value|dense))\.bias$/, (m) => ({ name: `${scope(m[1])}/bias`, transpose: false })],
];

function scope(dotted: string): string {
  return dotted.replace(/\.layer\.(\d+)\./, '.layer_$1.').replace(/\./g, '/');
}

/** Whether `key` is a BertForMaskedLM-style key (the other style is BertModel's, without prefixes). */
export function hasMaskedLmPrefix(key: string): boolean {
  return key.startsWith('bert.') || key.startsWith('cls.');
}

/**
 * The TF variable name of a HuggingFace BERT key in either style (and with gamma/beta), with
 * `transpose` set for linear weights; null for keys with no TF BERT counterpart (the tied
 * decoder weight, position_ids, the next-sentence head).
 */
export function tfNameOfHf(key: string): HfName | null {
  const full = hasMaskedLmPrefix(key) ? key : `bert.${key}`;
  if (!/^(bert\.(embeddings|encoder\.layer\.\d+|pooler)|cls\.predictions(\.transform)?)\./.test(full) && full !== 'cls.predictions.bias') return null;
  for (const [pattern, build] of TF_PATTERNS) {
    const match = pattern.exec(full);
    if (match) return build(match);
  }
  return null;
}

/** The keys a HF checkpoint may use for a TF variable: the BertForMaskedLM key, the BertModel key, and the gamma/beta spellings. */
export function hfCandidateKeys(tfName: string): string[] {
  const { name } = hfNameOfTf(tfName);
  const spellings = [name, name.replace(/\.LayerNorm\.weight$/, '.LayerNorm.gamma').replace(/\.LayerNorm\.bias$/, '.LayerNorm.beta')];
  const unique = [...new Set(spellings)];
  return [...unique, ...unique.filter((key) => key.startsWith('bert.')).map((key) => key.slice('bert.'.length))];
}

/** A row-major [rows, cols] matrix transposed to [cols, rows]. */
export function transposeMatrix(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  }
  return out;
}
