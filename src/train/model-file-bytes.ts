import { encodeCheckpoint, type CheckpointTensor } from '../model/checkpoint/index.js';
import { bertConfigToJson } from '../model/config.js';
import { vocabFileText } from '../model/vocab.js';
import { ADAM_SLOTS, MODEL_FILES } from '../model/model-folder.js';
import type { SavedModel } from './run-output.js';
import { serializeTrainerState } from './trainer-state.js';

/** One file of a model directory as bytes (several chunks, so large tensors are never copied). */
export interface ModelFileBytes {
  name: string;
  chunks: Uint8Array[];
}

/**
 * The files of a model directory (see MODEL_FILES) for `saved`: what bert4keras loads plus
 * trainer-state.json when the model comes from a run. Where they go is the writer's business.
 */
export function encodeModelFiles(saved: SavedModel): ModelFileBytes[] {
  const text = new TextEncoder();
  const config = { ...saved.config, vocabSize: saved.vocab.tokens.length };
  const tensors: CheckpointTensor[] = [...saved.weights].map(([name, { shape, data }]) => ({ name, shape, data }));
  if (saved.optimizer) {
    for (const [name, { shape }] of saved.weights) {
      const m = saved.optimizer.m.get(name);
      const v = saved.optimizer.v.get(name);
      if (m) tensors.push({ name: `${name}/${ADAM_SLOTS.m}`, shape, data: m });
      if (v) tensors.push({ name: `${name}/${ADAM_SLOTS.v}`, shape, data: v });
    }
  }
  const checkpoint = encodeCheckpoint(tensors);
  const files: ModelFileBytes[] = [
    { name: MODEL_FILES.config, chunks: [text.encode(`${JSON.stringify(bertConfigToJson(config), null, 2)}\n`)] },
    { name: MODEL_FILES.vocab, chunks: [text.encode(vocabFileText(MODEL_FILES.vocab, saved.vocab))] },
    { name: `${MODEL_FILES.checkpoint}.data-00000-of-00001`, chunks: checkpoint.data },
    { name: `${MODEL_FILES.checkpoint}.index`, chunks: [checkpoint.index] },
  ];
  if (saved.trainerState) files.push({ name: MODEL_FILES.trainerState, chunks: [serializeTrainerState(saved.trainerState)] });
  return files;
}
