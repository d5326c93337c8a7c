/** File names of a TensorFlow V2 checkpoint: `PREFIX.index` and `PREFIX.data-00000-of-00001`. */

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

