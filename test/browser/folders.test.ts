/** The browser's two FileFolders (a base URL, picked Files), exercised in Node against the same model folder. */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PickedFilesFolder } from '../../src/browser/picked-files.js';
import { UrlFolder } from '../../src/browser/url-folder.js';
import { loadModelFolder } from '../../src/model/model-folder.js';
import { DirectoryFolder } from '../../src/node/file-folder.js';
import { writeTinyModel } from '../support/tiny-model.js';
import { serveWeb } from './chromium.js';

const scratch = mkdtempSync(join(tmpdir(), 'simbert-folders-'));
const model = writeTinyModel(join(scratch, 'models', 'tiny'), { seed: 9 });

function pickedFile(folder: string, name: string, bytes: Uint8Array): File {
  const file = new File([bytes], name);
  Object.defineProperty(file, 'webkitRelativePath', { value: `${folder}/${name}` });
  return file;
}

test('a model read over HTTP and from picked Files equals the one read from disk', async () => {
  const fromDisk = await loadModelFolder(new DirectoryFolder(model.dir));
  const server = await serveWeb(join(scratch, 'models'));
  try {
    const overHttp = await loadModelFolder(new UrlFolder(`${server.url}models/tiny`));
    const picked = await loadModelFolder(new PickedFilesFolder(readdirSync(model.dir).map((name) => pickedFile('tiny', name, readFileSync(join(model.dir, name))))));
    for (const loaded of [overHttp, picked]) {
      assert.equal(loaded.vocab.tokens, fromDisk.vocab.tokens);
      for (const [name, data] of fromDisk.weights) assert.equal([...loaded.weights.get(name)!], [...data], name);
    }
    assert.is(picked.description, 'tiny');
    const folder = new UrlFolder(`${server.url}models/tiny/`);
    assert.is(await folder.has('vocab.txt'), true);
    assert.is(await folder.has('nothing.txt'), false);
    try {
      await folder.read('nothing.txt');
      assert.unreachable('a missing file must reject');
    } catch (error) {
      assert.is((error as Error).message, `${server.url}models/tiny/nothing.txt: no such file (HTTP 404)`);
    }
  } finally {
    await server.close();
  }
});

test('picked Files: the folder\'s own files win over same-named files of its subfolders, and names carry the folder', async () => {
  const folder = new PickedFilesFolder([
    pickedFile('run/checkpoints/step-1', 'vocab.txt', new TextEncoder().encode('old\n')),
    pickedFile('run', 'vocab.txt', new TextEncoder().encode('new\n')),
  ]);
  assert.is(await folder.has('vocab.txt'), true);
  assert.is(new TextDecoder().decode(await folder.read('vocab.txt')), 'new\n');
  assert.is(folder.describe('bert_config.json'), 'run/bert_config.json');
  try {
    await folder.read('bert_config.json');
    assert.unreachable('a missing file must reject');
  } catch (error) {
    assert.is((error as Error).message, 'run/bert_config.json: no such file among the picked files');
  }
});

test('the static server refuses paths outside its folders', async () => {
  const server = await serveWeb(join(scratch, 'models'));
  try {
    // Sent as written (fetch would resolve dot segments itself): encoded slashes decode to '../'.
    for (const path of ['/models/..%2f..%2fpackage.json', '/web/..%2fpackage.json', '/dist/browser/..%2f..%2fpackage.json', '/package.json', '/models/%E0%A4%A']) {
      assert.is(await rawStatus(server.url, path), 404, path);
    }
    assert.is((await fetch(`${server.url}`)).status, 200);
    assert.is((await fetch(`${server.url}dist/browser/simbert.js`)).headers.get('content-type'), 'text/javascript; charset=utf-8');
  } finally {
    await server.close();
  }
});

/** The status of a GET of `path` sent byte for byte. */
function rawStatus(base: string, path: string): Promise<number> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const request = httpRequest({ hostname, port, path, method: 'GET' }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('error', reject);
    request.end();
  });
}

test.after(() => rmSync(scratch, { recursive: true, force: true }));
test.run();
