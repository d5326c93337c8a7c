import { readFileSync } from 'node:fs';
import { ConfigError, parseBertConfigBytes, type BertConfig } from '../model/config.js';

/** Reads and validates a bert_config.json file; errors name it. */
export function loadBertConfig(path: string): BertConfig {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(`${path}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  return parseBertConfigBytes(bytes, path);
}
