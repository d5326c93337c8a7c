import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const buildScript = fileURLToPath(new URL('../../../scripts/build.sh', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'simbert-build-'));
mkdirSync(join(root, 'scripts'));
copyFileSync(buildScript, join(root, 'scripts', 'build.sh'));
// A stand-in for tsc that takes a while and writes one file into --outDir.
const fakeTsc = join(root, 'fake-tsc.sh');
writeFileSync(fakeTsc, 'while [ "$1" != --outDir ]; do shift; done\nsleep 0.3\nmkdir -p "$2/cli"\necho built > "$2/cli/index.js"\n');
const env = { ...process.env, TSC: `bash ${fakeTsc}` };

function build(): Promise<number | null> {
  const child = spawn('bash', [join(root, 'scripts', 'build.sh'), '--tests'], { env, stdio: 'ignore' });
  return new Promise((resolve) => child.on('exit', resolve));
}

test('builds running at the same time never leave dist/ or build/ missing for a test run', async () => {
  // dist starts as a plain directory, as a direct `tsc` run leaves it.
  mkdirSync(join(root, 'dist', 'cli'), { recursive: true });
  writeFileSync(join(root, 'dist', 'cli', 'index.js'), 'old');
  assert.is(spawnSync('bash', [join(root, 'scripts', 'build.sh'), '--tests'], { env }).status, 0);
  let checks = 0;
  const missing: string[] = [];
  const poll = setInterval(() => {
    checks++;
    for (const name of ['dist', 'build']) if (!existsSync(join(root, name, 'cli', 'index.js'))) missing.push(name);
  }, 2);
  const codes = await Promise.all([build(), build(), build()]);
  clearInterval(poll);
  assert.equal(codes, [0, 0, 0]);
  assert.ok(checks > 50, `polled ${checks} times`);
  assert.equal(missing, [], 'a reader always found both trees');
  const builds = readdirSync(root).filter((name) => name.startsWith('.dist-'));
  assert.ok(builds.length === 3, `the newest three builds are kept, found ${builds.join(', ')}`);
});

test.after(() => rmSync(root, { recursive: true, force: true }));
test.run();
