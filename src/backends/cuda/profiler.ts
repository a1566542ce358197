// Per-kernel time of the cuda backend, by BITSCALE_CUDA_PROFILE:
//   '1'   waits for the GPU after every addon call and times it on the host: the kernel's time plus a launch and
//         a synchronization each (a step runs several times slower; good for ranking large kernels).
//   'gpu' marks the stream before and after every call (native/cuda/gpu_profile.cu) and waits only when the
//         table is read: each call's device time, and '(gpu waiting for the host)', the time between one call's
//         end and the next call's start on the device, which is zero while launches are queued ahead of the GPU.
//         Each mark costs the host about a microsecond, which the step then also pays.
import type { CudaAddon } from './addon-types.ts';
import { CudaBackendError } from './errors.ts';

/** Milliseconds and calls per kernel. */
export type CudaProfile = Record<string, { calls: number; ms: number }>;

export const HOST_GAP = '(gpu waiting for the host)';

export interface CudaProfiler {
  /** Runs one addon call under the profile. */
  around<R>(key: string, call: () => R): R;
  /** The totals so far; the same object each time (clearing its keys starts over). */
  table(): CudaProfile;
}

function add(table: CudaProfile, key: string, ms: number) {
  const entry = (table[key] ??= { calls: 0, ms: 0 });
  entry.calls++;
  entry.ms += ms;
}

function syncProfiler(addon: CudaAddon): CudaProfiler {
  const table: CudaProfile = {};
  return {
    around(key, call) {
      const start = performance.now();
      try {
        return call();
      } finally {
        addon.sync();
        add(table, key, performance.now() - start);
      }
    },
    table: () => table,
  };
}

function gpuProfiler(addon: CudaAddon): CudaProfiler {
  const { profileMark, profileTimes } = addon;
  if (!profileMark || !profileTimes)
    throw new CudaBackendError(
      'BITSCALE_CUDA_PROFILE=gpu: this cuda addon was built before device-side profiling (rebuild: npm run build:cuda)',
    );
  const table: CudaProfile = {};
  let keys: string[] = [];
  // Marks are device events held until read: fold them into the table now and then, so a long run stays bounded.
  const flush = () => {
    const t = profileTimes(2 * keys.length);
    keys.forEach((key, i) => {
      add(table, key, t[2 * i + 1] - t[2 * i]);
      if (i + 1 < keys.length) add(table, HOST_GAP, t[2 * i + 2] - t[2 * i + 1]);
    });
    keys = [];
  };
  return {
    around(key, call) {
      profileMark();
      try {
        return call();
      } finally {
        profileMark();
        keys.push(key);
        if (keys.length >= 50_000) flush();
      }
    },
    table() {
      flush();
      return table;
    },
  };
}

/** The profiler BITSCALE_CUDA_PROFILE asks for, or null; an unknown value is an error naming the allowed ones. */
export function profilerFromEnv(addon: CudaAddon): CudaProfiler | null {
  const mode = process.env.BITSCALE_CUDA_PROFILE;
  if (mode === undefined || mode === '' || mode === '0') return null;
  if (mode === '1') return syncProfiler(addon);
  if (mode === 'gpu') return gpuProfiler(addon);
  throw new CudaBackendError(
    `BITSCALE_CUDA_PROFILE = '${mode}': expected 1 (synchronized) or gpu (device marks)`,
  );
}
