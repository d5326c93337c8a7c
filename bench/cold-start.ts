/**
 * Cold start: the demo (`train` without a model or data) run twice in fresh processes sharing a
 * new, empty shader cache (XDG_CACHE_HOME, where Mesa keeps compiled shaders): the first run
 * compiles every pipeline with lavapipe's LLVM, the second finds them in the cache. Also counts
 * the distinct pipelines the demo compiles.
 *
 *   node build/bench/cold-start.js           both runs, then the figures
 *   node build/bench/cold-start.js --demo D  (internal) one demo run into D, then its pipeline count
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PIPELINES_MARK = 'cold-start pipelines: ';

export interface ColdStartResult {
  coldMs: number;
  warmMs: number;
  /** Distinct pipelines the demo compiles. */
  pipelines: number;
}

function demoRun(cache: string, out: string): { ms: number; pipelines: number } {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_CACHE_HOME: cache };
  delete env.MESA_SHADER_CACHE_DIR;
  delete env.MESA_SHADER_CACHE_DISABLE;
  const started = performance.now();
  const result = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--demo', out], { encoding: 'utf8', env, timeout: 900_000 });
  const ms = performance.now() - started;
  const line = result.stdout.split('\n').find((text) => text.startsWith(PIPELINES_MARK));
  if (result.status !== 0 || !line) throw new Error(`the demo run failed (exit ${result.status}): ${result.stderr.trim().split('\n').slice(-3).join(' / ')}`);
  return { ms, pipelines: Number(line.slice(PIPELINES_MARK.length)) };
}

/** The demo with an empty shader cache, then again with the cache the first run filled. */
export function measureColdStart(): ColdStartResult {
  const root = mkdtempSync(join(tmpdir(), 'simbert-cold-'));
  try {
    const cache = join(root, 'cache');
    const cold = demoRun(cache, join(root, 'cold'));
    const warm = demoRun(cache, join(root, 'warm'));
    return { coldMs: cold.ms, warmMs: warm.ms, pipelines: cold.pipelines };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

async function demoChild(out: string): Promise<void> {
  const { activeGpu } = await import('../src/autograd/engine.js');
  const { parseArgs } = await import('../src/cli/args.js');
  const { trainCommand } = await import('../src/cli/train.js');
  const status = await trainCommand.run(parseArgs(trainCommand.spec, ['--out', out]));
  console.log(`${PIPELINES_MARK}${activeGpu().counters.pipelines}`);
  process.exit(status);
}

// build/ is a link to the real folder, which import.meta.url names.
if (realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === '--demo') await demoChild(process.argv[3]);
  else {
    const result = measureColdStart();
    console.log(`demo with an empty shader cache: ${(result.coldMs / 1000).toFixed(1)} s; warm: ${(result.warmMs / 1000).toFixed(1)} s; pipelines compiled: ${result.pipelines}`);
  }
}
