import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { FileFolder } from '../../src/formats/folder.js';
import { loadModelFolder, MODEL_FILES } from '../../src/model/model-folder.js';
import { DirectoryFolder } from '../../src/node/file-folder.js';
import { loadModel } from '../../src/node/load-model.js';
import { writeTinyModel } from '../support/tiny-model.js';

const scratch = mkdtempSync(join(tmpdir(), 'simbert-model-folder-'));
const model = writeTinyModel(join(scratch, 'tiny'), { seed: 3 });

/** A folder of bytes in memory, as a browser holds picked or fetched files. */
function memoryFolder(dir: string, leaveOut: string[] = []): FileFolder {
  const files = new Map(readdirSync(dir).filter((name) => !leaveOut.includes(name)).map((name) => [name, new Uint8Array(readFileSync(join(dir, name)))]));
  return {
    location: 'picked files',
    has: async (name) => files.has(name),
    read: async (name) => {
      const bytes = files.get(name);
      if (!bytes) throw new Error(`${name}: no such file`);
      return bytes;
    },
    describe: (name) => name,
  };
}

test('a model folder read whole from memory gives the weights the disk reader gives', async () => {
  const fromDisk = await loadModel({ model: model.dir });
  const inMemory = await loadModelFolder(memoryFolder(model.dir));
  assert.equal(inMemory.config, fromDisk.config);
  assert.equal(inMemory.vocab.tokens, fromDisk.vocab.tokens);
  assert.equal([...inMemory.weights.keys()], [...fromDisk.weights.keys()]);
  for (const [name, data] of fromDisk.weights) assert.equal([...inMemory.weights.get(name)!], [...data], name);
  assert.is(inMemory.optimizer, null);
});

test('a folder of symlinks (a HuggingFace cache snapshot) reads like the files themselves', async () => {
  const linked = join(scratch, 'snapshot');
  mkdirSync(linked);
  for (const name of readdirSync(model.dir)) symlinkSync(join(model.dir, name), join(linked, name));
  const fromLinks = await loadModelFolder(new DirectoryFolder(linked));
  const fromFiles = await loadModelFolder(new DirectoryFolder(model.dir));
  assert.equal(fromLinks.config, fromFiles.config);
  for (const [name, data] of fromFiles.weights) assert.equal([...fromLinks.weights.get(name)!], [...data], name);
});

test('the pretrained form (three files) reads through folders too', async () => {
  const pretrained = await loadModel({ config: model.configPath, checkpoint: model.checkpointPrefix, vocab: model.vocabPath });
  assert.is(pretrained.config.vocabSize, model.config.vocabSize);
  assert.is(pretrained.description, model.checkpointPrefix);
});

test('a missing file is named in the error', async () => {
  const noData = `${MODEL_FILES.checkpoint}.data-00000-of-00001`;
  await assertRejects(loadModelFolder(memoryFolder(model.dir, [noData])), new RegExp(`^${noData.replace(/\./g, '\\.')}: data shard is missing`));
  await assertRejects(loadModelFolder(memoryFolder(model.dir, [MODEL_FILES.vocab])), /^vocab\.txt: no such file/);
  await assertRejects(loadModelFolder(memoryFolder(model.dir, [`${MODEL_FILES.checkpoint}.index`])), /^bert_model\.ckpt\.index: no such file/);
  await assertRejects(loadModelFolder(new DirectoryFolder(join(scratch, 'absent'))), new RegExp(`${join(scratch, 'absent', 'bert_config.json')}: no such file`));
});

test("a damaged optimizerStep in trainer-state.json is refused naming the file, not read as step 0", async () => {
  const dir = join(scratch, 'damaged-step');
  cpSync(model.dir, dir, { recursive: true });
  const state = join(dir, MODEL_FILES.trainerState);
  for (const [json, shown] of [['{"optimizerStep": -3}', '-3'], ['{"optimizerStep": "12"}', '"12"'], ['{}', 'nothing'], ['[1]', 'nothing']]) {
    writeFileSync(state, json);
    await assertRejects(loadModelFolder(new DirectoryFolder(dir), { withOptimizer: true }), new RegExp(`^${state}: "optimizerStep" must be an integer >= 0, got ${shown}$`));
  }
  writeFileSync(state, Buffer.from([0x7b, 0xff, 0x7d]));
  await assertRejects(loadModelFolder(new DirectoryFolder(dir), { withOptimizer: true }), new RegExp(`^${state}: not valid JSON`));
  writeFileSync(state, '{"optimizerStep": 7}');
  assert.is((await loadModelFolder(new DirectoryFolder(dir), { withOptimizer: true })).config.vocabSize, model.config.vocabSize);
});

async function assertRejects(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await promise;
  } catch (error) {
    assert.match((error as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected a rejection matching ${pattern}`);
}

test.after(() => rmSync(scratch, { recursive: true, force: true }));
test.run();
