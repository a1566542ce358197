// The native packed OneBit GEMM (native/cpu/onebit.cc) as a plain function, or null when the addon is not
// built or this build of it lacks the kernel; src/onebit/gemv.ts falls back to its TypeScript reference.
import type { CpuAddon } from './addon-types.ts';
import { CpuKernelError } from './errors.ts';
import { loadCpuAddon } from './load-addon.ts';

export type OnebitGemm = (
  codes: Uint8Array,
  g: Float32Array,
  h: Float32Array,
  x: Float32Array,
  y: Float32Array,
  rows: number,
  cols: number,
  batch: number,
) => void;

export function nativeOnebitGemm(addon?: CpuAddon): OnebitGemm | null {
  const source =
    addon ??
    (() => {
      const loaded = loadCpuAddon();
      return 'error' in loaded ? null : loaded.addon;
    })();
  const kernel = source?.onebitGemm;
  if (!source || !kernel) return null;
  return (...args) => {
    try {
      kernel.apply(source, args);
    } catch (e) {
      throw new CpuKernelError('onebitGemm', e as Error);
    }
  };
}
