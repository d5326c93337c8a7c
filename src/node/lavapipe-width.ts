/**
 * The SIMD width lavapipe (Mesa's software Vulkan driver) compiles shaders to.
 *
 * lavapipe runs one invocation per SIMD lane at LP_NATIVE_VECTOR_WIDTH bits: 256 by default, so
 * 8 lanes (the subgroup size). On a CPU with AVX-512 it can run 512 bits, 16 lanes, and there the
 * texture matmul (most of a training step) runs faster, 37-41 GFLOP/s against 31-35 at two BERT
 * shapes: the same instructions move twice the lanes. So unless the user chose a width, the engine asks for 512 where the CPU has AVX-512.
 *
 * Mesa's shader cache does not tell the widths apart: a pipeline compiled at 256 bits is loaded
 * as is at 512 (measured: the FMA kernel kept its 256-bit speed until the cache was disabled).
 * So the width chosen here gets a cache directory of its own.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The environment variables to set before Dawn loads the Vulkan drivers: 512 bits where the CPU has
 * AVX-512 and the user chose no width, and for any chosen width a shader cache of its own (under
 * MESA_SHADER_CACHE_DIR, $XDG_CACHE_HOME or ~/.cache, where Mesa keeps its own) unless the user
 * chose both. Empty when nothing is to change.
 */
export function lavapipeWidthSettings(env: NodeJS.ProcessEnv, cpuFlags: ReadonlySet<string>): Record<string, string> {
  const chosen = env.LP_NATIVE_VECTOR_WIDTH;
  const width = chosen ?? (cpuFlags.has('avx512f') ? '512' : undefined);
  if (width === undefined || (chosen !== undefined && env.MESA_SHADER_CACHE_DIR)) return {};
  const cacheRoot = env.MESA_SHADER_CACHE_DIR || env.XDG_CACHE_HOME || join(homedir(), '.cache');
  const cache = { MESA_SHADER_CACHE_DIR: join(cacheRoot, `simbert-lavapipe-${width}-bits`) };
  return chosen === undefined ? { LP_NATIVE_VECTOR_WIDTH: width, ...cache } : cache;
}

/** The flags of the first processor in /proc/cpuinfo's text; empty for null (no such file: not Linux). */
export function cpuFlags(cpuinfo: string | null): Set<string> {
  const line = cpuinfo?.split('\n').find((text) => text.startsWith('flags'));
  return new Set(line ? line.slice(line.indexOf(':') + 1).trim().split(/\s+/) : []);
}

/** This machine's CPU flags. */
export function thisCpuFlags(): Set<string> {
  try {
    return cpuFlags(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return cpuFlags(null);
  }
}

/** What applyLavapipeWidth set in this process's environment. */
const applied: Record<string, string> = {};

/** Sets lavapipe's width for this process (once, before Dawn is created). */
export function applyLavapipeWidth(): void {
  Object.assign(applied, lavapipeWidthSettings(process.env, thisCpuFlags()));
  Object.assign(process.env, applied);
}

/** This process's environment without what applyLavapipeWidth set: for a browser started from here, which should run as a user's would. */
export function environmentWithoutEngineSettings(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const name of Object.keys(applied)) delete env[name];
  return env;
}
