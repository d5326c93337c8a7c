/** File names of a TensorFlow V2 checkpoint: `PREFIX.index` and `PREFIX.data-00000-of-00001`. */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';

/** Accepts `dir/bert_model.ckpt`, `dir/bert_model.ckpt.index` or one of its data shard names. */
export function checkpointPrefix(path: string): string {
  if (path.endsWith('.index')) return path.slice(0, -'.index'.length);
  const shard = /\.data-\d{5}-of-\d{5}$/.exec(path);
  return shard ? path.slice(0, shard.index) : path;
}

export function indexFileName(prefix: string): string {
  return `${prefix}.index`;
}

export function dataShardFileName(prefix: string, shardId: number, numShards: number): string {
  return `${prefix}.data-${String(shardId).padStart(5, '0')}-of-${String(numShards).padStart(5, '0')}`;
}

/**
 * Like checkpointPrefix, but a directory is accepted too: the checkpoint named by its TensorFlow
 * `checkpoint` state file (model_checkpoint_path), else its only `.index` file.
 * For a directory where neither identifies one checkpoint, returns the reason instead.
 */
export function resolveCheckpointPrefix(path: string): { prefix: string } | { problem: string } {
  let isDirectory = false;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch {
    return { prefix: checkpointPrefix(path) };
  }
  if (!isDirectory) return { prefix: checkpointPrefix(path) };
  const stateFile = join(path, 'checkpoint');
  if (existsSync(stateFile)) {
    const latest = /^model_checkpoint_path:\s*"((?:[^"\\]|\\.)*)"/m.exec(readFileSync(stateFile, 'utf8'));
    if (latest) return { prefix: isAbsolute(latest[1]) ? latest[1] : join(path, latest[1]) };
  }
  const indexes = readdirSync(path).filter((name) => name.endsWith('.index')).sort();
  if (indexes.length === 1) return { prefix: join(path, checkpointPrefix(indexes[0])) };
  return {
    problem: indexes.length === 0
      ? 'it is a directory with no .index file; give the checkpoint prefix, e.g. dir/bert_model.ckpt'
      : `it is a directory with ${indexes.length} checkpoints (${indexes.join(', ')}); give one prefix`,
  };
}
