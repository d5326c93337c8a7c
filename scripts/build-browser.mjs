// Bundles the browser entry (src/browser/simbert.ts) and everything it imports into one ES
// module, DIST/browser/simbert.js (DIST: the argument, default dist), with no Node built-ins;
// `tsc` has written its declarations (DIST/browser/simbert.d.ts) already. Fails when the bundle
// would reach for Node.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outfile = join(resolve(root, process.argv[2] ?? 'dist'), 'browser', 'simbert.js');
await build({
  entryPoints: [`${root}src/browser/simbert.ts`],
  outfile,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
});
const bundle = readFileSync(outfile, 'utf8');
const nodeUse = ['node:', 'require('].find((marker) => bundle.includes(marker));
if (nodeUse) {
  console.error(`build-browser: ${outfile} contains '${nodeUse}'; browser code must not import Node modules`);
  process.exit(1);
}
console.log(`build-browser: wrote ${outfile} (${(bundle.length / 1024).toFixed(0)} KiB)`);
