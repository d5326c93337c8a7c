/** Opening a TensorFlow checkpoint on disk: its prefix from a path, and its data shards as files. */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { CheckpointReader, parseCheckpointIndex, type ShardReader } from '../model/checkpoint/bundle-reader.js';
import { CheckpointError } from '../model/checkpoint/errors.js';
import { checkpointPrefix, indexFileName } from '../model/checkpoint/paths.js';

/**
 * The prefix where the index really is: through a run directory's links (bert_model.ckpt.index ->
 * latest/...), so the data shards are read beside that index even if `latest` moves meanwhile.
 */
function stablePrefix(prefix: string): string {
  try {
    return checkpointPrefix(realpathSync(indexFileName(prefix)));
  } catch {
    return prefix;
  }
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
    return { prefix: stablePrefix(checkpointPrefix(path)) };
  }
  if (!isDirectory) return { prefix: stablePrefix(checkpointPrefix(path)) };
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

/** A data shard file, opened on first read so that listing a checkpoint opens no shard. */
function fileShard(path: string): ShardReader {
  let fd: number | null = null;
  const open = (): number => {
    fd ??= openSync(path, 'r');
    return fd;
  };
  return {
    size: statSync(path).size,
    read(offset, length) {
      const handle = open();
      const bytes = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const read = readSync(handle, bytes, done, length - done, offset + done);
        if (read === 0) throw new Error('unexpected end of file');
        done += read;
      }
      return bytes;
    },
    close() {
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}

/** Opens `dir/name.ckpt`, `dir/name.ckpt.index` or a directory holding one checkpoint; throws CheckpointError naming the file and what is wrong. */
export function openCheckpoint(path: string): CheckpointReader {
  const resolved = resolveCheckpointPrefix(path);
  if ('problem' in resolved) throw new CheckpointError(`${path}: ${resolved.problem}`);
  const indexPath = indexFileName(resolved.prefix);
  let file: Uint8Array;
  try {
    file = readFileSync(indexPath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file (give the checkpoint prefix, e.g. dir/bert_model.ckpt for dir/bert_model.ckpt.index)' : (error as Error).message;
    throw new CheckpointError(`${indexPath}: ${reason}`);
  }
  const index = parseCheckpointIndex(resolved.prefix, file);
  return new CheckpointReader(index, index.dataFiles.map((dataFile) => (isFile(dataFile) ? fileShard(dataFile) : null)));
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
