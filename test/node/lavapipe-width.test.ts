import { spawnSync } from 'node:child_process';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpuFlags, lavapipeWidthSettings, thisCpuFlags } from '../../src/node/lavapipe-width.js';

const AVX512 = new Set(['fpu', 'avx2', 'avx512f', 'avx512vl']);
const AVX2 = new Set(['fpu', 'avx2', 'fma']);

test('512 bits and a cache of their own where the CPU has AVX-512 and no width is chosen', () => {
  assert.equal(lavapipeWidthSettings({ XDG_CACHE_HOME: '/c' }, AVX512), { LP_NATIVE_VECTOR_WIDTH: '512', MESA_SHADER_CACHE_DIR: '/c/simbert-lavapipe-512-bits' });
  assert.equal(lavapipeWidthSettings({}, AVX512), { LP_NATIVE_VECTOR_WIDTH: '512', MESA_SHADER_CACHE_DIR: join(homedir(), '.cache', 'simbert-lavapipe-512-bits') });
  // Under the user's own cache directory when there is one.
  assert.equal(lavapipeWidthSettings({ MESA_SHADER_CACHE_DIR: '/m', XDG_CACHE_HOME: '/c' }, AVX512).MESA_SHADER_CACHE_DIR, '/m/simbert-lavapipe-512-bits');
});

test("the user's width is kept, with a cache of its own unless the user chose the cache too", () => {
  assert.equal(lavapipeWidthSettings({ LP_NATIVE_VECTOR_WIDTH: '256', XDG_CACHE_HOME: '/c' }, AVX512), { MESA_SHADER_CACHE_DIR: '/c/simbert-lavapipe-256-bits' });
  assert.equal(lavapipeWidthSettings({ LP_NATIVE_VECTOR_WIDTH: '512', XDG_CACHE_HOME: '/c' }, AVX2), { MESA_SHADER_CACHE_DIR: '/c/simbert-lavapipe-512-bits' });
  assert.equal(lavapipeWidthSettings({ LP_NATIVE_VECTOR_WIDTH: '256', MESA_SHADER_CACHE_DIR: '/m' }, AVX512), {});
});

test('nothing changes without AVX-512 or without /proc/cpuinfo', () => {
  assert.equal(lavapipeWidthSettings({ XDG_CACHE_HOME: '/c' }, AVX2), {});
  assert.equal(lavapipeWidthSettings({}, cpuFlags(null)), {});
});

test('cpuFlags reads the first processor of /proc/cpuinfo', () => {
  const cpuinfo = 'processor\t: 0\nmodel name\t: Xeon\nflags\t\t: fpu avx2 avx512f\n\nprocessor\t: 1\nflags\t\t: fpu\n';
  assert.equal([...cpuFlags(cpuinfo)], ['fpu', 'avx2', 'avx512f']);
  assert.equal(cpuFlags('processor\t: 0\n').size, 0);
});

// The engine runs lavapipe at 16 lanes on this kind of machine, where the texture matmul broadcasts
// rows of A lane by lane. Its 8-lane form (a shuffle per quad) is what other CPUs get: run the
// matmul kernel tests again at 256 bits so that form stays tested on lavapipe too.
test('the matmul kernel tests pass at 8 lanes (LP_NATIVE_VECTOR_WIDTH=256)', () => {
  if (!thisCpuFlags().has('avx512f')) {
    console.log('skipped: this CPU has no AVX-512, so the engine already runs lavapipe at its default width');
    return;
  }
  const kernelTests = join(dirname(fileURLToPath(import.meta.url)), '..', 'kernels', 'matmul.test.js');
  const result = spawnSync(process.execPath, [kernelTests], { encoding: 'utf8', env: { ...process.env, LP_NATIVE_VECTOR_WIDTH: '256' } });
  const output = `${result.stdout}${result.stderr}`;
  assert.is(result.status, 0, output.slice(-3000));
  assert.match(output, /Passed:\s+\d+/);
});

test.run();
