// Runs every compiled uvu test file (build/test/**/*.test.js) in its own Node process,
// so each file gets a fresh GPU device, then prints one closing line: N passed, N failed.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const testRoot = join(root, 'build', 'test');
const filter = process.argv[2] ?? '';

function findTests(dir) {
  const found = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (name.endsWith('.test.js') && path.includes(filter)) found.push(path);
  }
  return found;
}

const files = findTests(testRoot);
let passed = 0;
let failed = 0;
let skipped = 0;
const failedFiles = [];
for (const file of files) {
  const name = relative(testRoot, file);
  const started = Date.now();
  const result = spawnSync(process.execPath, [file], { encoding: 'utf8', env: process.env });
  const output = `${result.stdout}${result.stderr}`;
  const count = (label) => Number(output.match(new RegExp(`${label}:\\s+(\\d+)`))?.[1] ?? 0);
  const total = count('Total');
  const filePassed = count('Passed');
  const fileSkipped = count('Skipped');
  let fileFailed = Math.max(0, total - filePassed); // uvu's Total excludes skipped tests
  if (result.status !== 0 && fileFailed === 0) fileFailed = 1; // crashed before uvu could report
  passed += filePassed;
  failed += fileFailed;
  skipped += fileSkipped;
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`${fileFailed ? 'FAIL' : 'ok  '} ${name}  (${filePassed} passed, ${fileFailed} failed, ${fileSkipped} skipped, ${seconds}s)`);
  const notes = output.split('\n').map((line) => /\b(?:skipped|worst|info): \D.*$/.exec(line)?.[0]).filter(Boolean);
  for (const line of notes) console.log(`       ${line}`);
  if (fileFailed) {
    failedFiles.push(name);
    console.log(output.split('\n').map((line) => `     | ${line}`).join('\n'));
  }
}
if (files.length === 0) {
  console.log('no test files found under build/test');
  failed += 1;
}
if (failedFiles.length) console.log(`failed files: ${failedFiles.join(', ')}`);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed ? 1 : 0);
