import { readFileSync, writeFileSync } from 'node:fs';
import { parseVocab, vocabFileText, vocabTokensFromBytes, VocabError, type LoadedVocab, type LoadVocabOptions, type Vocab } from '../model/vocab.js';

function readVocabBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new VocabError(`${path}: cannot read the vocabulary file (${(error as Error).message})`);
  }
}

/** The raw token of each line of a vocab file (see vocabTokensFromText); errors name the file. */
export function readVocabFile(path: string): string[] {
  return vocabTokensFromBytes(readVocabBytes(path));
}

/**
 * Reads a vocab file as bert4keras `load_vocab(path, simplified, startswith)`. With
 * `simplified`, `startswith` defaults to [PAD], [UNK], [CLS], [SEP] (bert4keras: none).
 */
export function loadVocab(path: string, options: LoadVocabOptions = {}): LoadedVocab {
  return parseVocab(readVocabBytes(path), path, options);
}

/** Writes one token per line in id order (see vocabFileText). */
export function writeVocabFile(path: string, vocab: Vocab): void {
  const text = vocabFileText(path, vocab);
  try {
    writeFileSync(path, text, 'utf8');
  } catch (error) {
    throw new Error(`cannot write vocabulary file '${path}': ${(error as Error).message}`);
  }
}
