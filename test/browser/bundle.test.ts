import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { projectRoot } from './chromium.js';

const bundle = join(projectRoot(), 'dist', 'browser', 'simbert.js');

test('the browser module is one ES module with no Node built-ins', () => {
  assert.ok(existsSync(bundle), `${bundle} is missing: npm run build writes it`);
  const text = readFileSync(bundle, 'utf8');
  assert.not.ok(text.includes('node:'), 'the bundle names a node: module');
  assert.not.ok(text.includes('require('), 'the bundle calls require(');
  assert.not.match(text, /^import\s/m, 'the bundle imports another module');
  for (const name of ['loadModel', 'trainDemo', 'BrowserModel', 'openEngine']) assert.match(text, new RegExp(`export\\s*\\{[^}]*\\b${name}\\b`), `exports ${name}`);
  assert.ok(existsSync(join(projectRoot(), 'dist', 'browser', 'simbert.d.ts')), 'its declarations');
});

test.run();
