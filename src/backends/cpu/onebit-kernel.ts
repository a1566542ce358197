// The native packed GEMMs (native/cpu/onebit.cc, onebit_lut.cc) as plain functions, or null when the addon is
// not built or this build of it lacks the kernel; src/onebit/gemv.ts falls back to its TypeScript reference.
import type { CpuAddon } from './addon-types.ts';
import { CpuKernelError } from './errors.ts';
import { loadCpuAddon } from './load-addon.ts';

/** y (batch, rows) = h ⊙ ((x ⊙ g) Sᵀ), S packed (rows, cols), exact in fp32. */
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

/** The same product by int8 table lookup, codes in 32-row tiles (gemv.ts's tileCodes). */
export type PackedLutGemm = (
  tiled: Uint8Array,
  g: Float32Array,
  h: Float32Array,
  x: Float32Array,
  y: Float32Array,
  rows: number,
  cols: number,
  batch: number,
  ternary: boolean,
) => void;

type Name = 'onebitGemm' | 'ternaryGemm' | 'packedLutGemm';

function nativeKernel<F extends (...args: never[]) => void>(name: Name, addon?: CpuAddon): F | null {
  const source =
    addon ??
    (() => {
      const loaded = loadCpuAddon();
      return 'error' in loaded ? null : loaded.addon;
    })();
  const kernel = source?.[name] as ((...args: unknown[]) => void) | undefined;
  if (!source || !kernel) return null;
  return ((...args: unknown[]) => {
    try {
      kernel.apply(source, args);
    } catch (e) {
      throw new CpuKernelError(name, e as Error);
    }
  }) as unknown as F;
}

/** The sign1 (±1, 1 bit per weight) kernel. */
export const nativeOnebitGemm = (addon?: CpuAddon) => nativeKernel<OnebitGemm>('onebitGemm', addon);

/** The ternary2 (-1/0/+1, 2 bits per weight) kernel. */
export const nativeTernaryGemm = (addon?: CpuAddon) => nativeKernel<OnebitGemm>('ternaryGemm', addon);

/** The table-lookup kernel, both formats. */
export const nativePackedLutGemm = (addon?: CpuAddon) => nativeKernel<PackedLutGemm>('packedLutGemm', addon);
