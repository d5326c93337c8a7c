/**
 * A HuggingFace BERT state dict (safetensors or pytorch_model.bin) seen under TF variable names
 * and layouts, so the TF loader's validation, keep_tokens gathering and head initialisation
 * apply unchanged. Linear weights are transposed from [out, in] when read.
 */
import { bertParameterShapes, type BertConfig } from '../model/config.js';
import type { WeightSource } from '../model/load.js';
import { hfCandidateKeys, hfNameOfTf, transposeMatrix } from './hf-names.js';
import type { TensorSource } from './tensor-source.js';

/** Values that replace or supply a TF variable, e.g. a sentence-transformers Dense layer as the pooler. */
export type WeightOverrides = Map<string, { shape: number[]; data: Float32Array }>;

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'FloatStorage', 'HalfStorage', 'BFloat16Storage', 'DoubleStorage']);

interface Mapped {
  key: string;
  transpose: boolean;
  dtype: string;
  shape: number[];
}

/** `source`'s BERT tensors under TF names; TF names it lacks are simply absent (the loader reports them). */
export function hfWeightSource(source: TensorSource, config: BertConfig, overrides: WeightOverrides = new Map()): WeightSource {
  const mapped = new Map<string, Mapped>();
  for (const parameter of bertParameterShapes(config)) {
    if (overrides.has(parameter.name)) continue;
    const key = hfCandidateKeys(parameter.name).find((candidate) => source.get(candidate) !== undefined);
    if (key === undefined) continue;
    const info = source.get(key)!;
    const transpose = hfNameOfTf(parameter.name).transpose && info.shape.length === 2;
    mapped.set(parameter.name, {
      key,
      transpose,
      dtype: FLOAT_DTYPES.has(info.dtype) ? 'float32' : info.dtype,
      shape: transpose ? [info.shape[1], info.shape[0]] : [...info.shape],
    });
  }
  const tensors = [
    ...[...mapped].map(([name, { dtype, shape }]) => ({ name, dtype, shape })),
    ...[...overrides].map(([name, { shape }]) => ({ name, dtype: 'float32', shape })),
  ];
  const byName = new Map(tensors.map((tensor) => [tensor.name, tensor]));
  return {
    prefix: source.source,
    tensors,
    get: (name) => byName.get(name),
    readFloat32(name) {
      const override = overrides.get(name);
      if (override) return override.data;
      const entry = mapped.get(name);
      if (!entry) throw new Error(`${source.source}: holds no tensor for ${name} (looked for ${hfCandidateKeys(name).join(', ')})`);
      const data = source.readFloat32(entry.key);
      return entry.transpose ? transposeMatrix(data, entry.shape[1], entry.shape[0]) : data;
    },
  };
}

/** Whether the state dict has no MLM head at all (a BertModel checkpoint): the loader then initialises it with a warning. */
export function lacksMaskedLmHead(source: WeightSource, config: BertConfig): boolean {
  return bertParameterShapes(config).filter((parameter) => parameter.group === 'mlm').every((parameter) => source.get(parameter.name) === undefined);
}
