// Finds and loads the native CPU addon. Two builds exist (native/cpu/binding.gyp): one for any x86-64 and
// one with AVX2 + FMA, chosen here when the CPU has both. When neither loads, says why and how to build
// it, so the caller can fall back to the `js` backend.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { CpuAddon } from './addon-types.ts';

const buildDir = fileURLToPath(new URL('../../../native/cpu/build/Release/', import.meta.url));

/** True when the CPU reports AVX2 and FMA (Linux /proc/cpuinfo; elsewhere: false, the portable build). */
export function cpuHasAvx2Fma(): boolean {
  try {
    const flags = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1].split(/\s+/) ?? [];
    return flags.includes('avx2') && flags.includes('fma');
  } catch {
    return false;
  }
}

/** The addon file to load: BITSCALE_CPU_ADDON if set; else the AVX2 build where the CPU supports it and
 *  BITSCALE_CPU_ISA is not 'generic'; else the portable build. */
export function addonPath(): string {
  if (process.env.BITSCALE_CPU_ADDON) return process.env.BITSCALE_CPU_ADDON;
  const avx2 = `${buildDir}bitscale_cpu_avx2.node`;
  if (process.env.BITSCALE_CPU_ISA !== 'generic' && cpuHasAvx2Fma() && existsSync(avx2)) return avx2;
  return `${buildDir}bitscale_cpu.node`;
}

/** OpenMP's wait policy for this process, decided before the addon (and with it libgomp) loads. The default
 *  (spin, then sleep) is the fastest on an idle machine; on a machine already busier than its cores, a thread
 *  spinning at a barrier burns the time slice its partner needs, and every kernel stalls for scheduler slices
 *  (measured: training steps 5-10x slower). There 'passive' (sleep at once) is far better, so it is chosen
 *  when the load average exceeds the core count and the user has not set OMP_WAIT_POLICY. */
export function chooseOmpWaitPolicy(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.OMP_WAIT_POLICY) return env.OMP_WAIT_POLICY;
  if (loadavg()[0] > availableParallelism()) env.OMP_WAIT_POLICY = 'passive';
  return env.OMP_WAIT_POLICY;
}

export type AddonLoad = { addon: CpuAddon; path: string } | { error: string };

let cached: AddonLoad | undefined;

/** The addon, or a message that says why it could not be loaded and how to build it. Loaded once. */
export function loadCpuAddon(): AddonLoad {
  if (cached) return cached;
  const path = addonPath();
  if (!existsSync(path)) {
    cached = {
      error: `the native CPU addon is not built (no ${path}); build it with \`npm run setup\` (needs g++, make, python3 and libopenblas-dev)`,
    };
    return cached;
  }
  chooseOmpWaitPolicy();
  try {
    cached = { addon: createRequire(import.meta.url)(path) as CpuAddon, path };
  } catch (e) {
    cached = {
      error: `the native CPU addon at ${path} failed to load (${(e as Error).message}); rebuild it with \`npm run setup\``,
    };
  }
  return cached;
}
