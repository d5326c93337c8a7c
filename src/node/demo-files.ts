import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { demoFileTexts, type DemoData } from '../train/demo-data.js';

export interface DemoFiles {
  train: string;
  test: string;
  vocab: string;
}

/** Writes train.json (the recipe's object of groups), test.txt and vocab.txt into `dir`. */
export function writeDemoData(dir: string, data: DemoData): DemoFiles {
  mkdirSync(dir, { recursive: true });
  const files = { train: join(dir, 'train.json'), test: join(dir, 'test.txt'), vocab: join(dir, 'vocab.txt') };
  const texts = demoFileTexts(data);
  writeFileSync(files.train, texts.train);
  writeFileSync(files.test, texts.test);
  writeFileSync(files.vocab, texts.vocab);
  return files;
}
