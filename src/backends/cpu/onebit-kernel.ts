// The native packed GEMMs (native/cpu/onebit.cc) as plain functions, or null when the addon is not built or
// this build of it lacks the kernel; src/onebit/gemv.ts falls back to its TypeScript reference.
import type { CpuAddon } from './addon-types.ts';
import { CpuKernelError } from './errors.ts';
import { loadCpuAddon } from './load-addon.ts';

/** y (batch, rows) = h ⊙ ((x ⊙ g) Sᵀ), S packed (rows, cols). */
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

function nativeKernel(name: 'onebitGemm' | 'ternaryGemm', addon?: CpuAddon): OnebitGemm | null {
  const source =
    addon ??
    (() => {
      const loaded = loadCpuAddon();
      return 'error' in loaded ? null : loaded.addon;
    })();
  const kernel = source?.[name];
  if (!source || !kernel) return null;
  return (...args) => {
    try {
      kernel.apply(source, args);
    } catch (e) {
      throw new CpuKernelError(name, e as Error);
    }
  };
}

/** The sign1 (±1, 1 bit per weight) kernel. */
export const nativeOnebitGemm = (addon?: CpuAddon) => nativeKernel('onebitGemm', addon);

/** The ternary2 (-1/0/+1, 2 bits per weight) kernel. */
export const nativeTernaryGemm = (addon?: CpuAddon) => nativeKernel('ternaryGemm', addon);
