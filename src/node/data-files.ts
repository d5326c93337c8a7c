/** Train, test and text files read from disk; the parsers in src/train/data.ts take their bytes. */
import { readFileSync } from 'node:fs';
import { DataError, parseTestPairs, parseTextLines, parseTrainGroups, type LabelKind, type TestPairs, type TokenCounter, type TrainGroups } from '../train/data.js';

function readBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new DataError(path, 'file', `cannot read it (${(error as Error).message})`);
  }
}

export function loadTrainGroups(path: string, tokenCounter?: TokenCounter): TrainGroups {
  return parseTrainGroups(readBytes(path), path, tokenCounter);
}

export function loadTestPairs(path: string, tokenCounter?: TokenCounter, labelKind: LabelKind = 'auto'): TestPairs {
  return parseTestPairs(readBytes(path), path, tokenCounter, labelKind);
}

export function loadTextLines(path: string, countTokens: TokenCounter): string[] {
  return parseTextLines(readBytes(path), path, countTokens);
}
