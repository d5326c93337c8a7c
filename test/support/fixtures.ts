import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The checkout: the first folder above this compiled file with a package.json (build/ may be a link
 * to a build folder, and Node resolves the link, so this does not depend on where that folder is).
 */
function findProjectRoot(): string {
  let dir = fileURLToPath(new URL('.', import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) return resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');
    dir = parent;
  }
  return dir;
}

const projectRoot = findProjectRoot();

/** Where ../shared/fixtures is (SIMBERT_FIXTURES overrides), or null when absent. */
export function sharedFixturesDir(): string | null {
  const dir = process.env.SIMBERT_FIXTURES ?? join(projectRoot, '..', 'shared', 'fixtures');
  return existsSync(dir) ? dir : null;
}

/**
 * The path of one shared fixture folder, or null after printing why the caller skips.
 * Test files call this once and register their tests with `test.skip` when it is null.
 */
export function sharedFixture(name: string): string | null {
  const dir = sharedFixturesDir();
  const path = dir === null ? null : join(dir, name);
  if (path === null || !existsSync(path)) {
    console.log(`skipped: shared fixture '${name}' is absent (looked in ${dir ?? '../shared/fixtures'}); set SIMBERT_FIXTURES to its folder to run these tests`);
    return null;
  }
  return path;
}

/** The project's own committed test fixtures (test/fixtures). */
export function projectFixture(...parts: string[]): string {
  return join(projectRoot, 'test', 'fixtures', ...parts);
}
