// GPTQ's native kernels (native/cpu/gptq.cc) as numerics' GptqKernels. numerics cannot load the addon
// itself (it stays free of Node), so the cpu backend registers them when it is created, and
// registerNativeGptq() does the same for callers that quantize without creating a backend.
import type { GptqKernels } from '../../numerics/gptq-kernels.ts';
import { setGptqKernels } from '../../numerics/gptq-kernels.ts';
import { nativeGptqKernelsOf } from '../native-gptq.ts';
import type { CpuAddon } from './addon-types.ts';
import { CpuKernelError } from './errors.ts';
import { loadCpuAddon } from './load-addon.ts';

/** The addon's GPTQ kernels, or null when this build of it has none. */
export function nativeGptqKernels(addon: CpuAddon): GptqKernels | null {
  return nativeGptqKernelsOf(addon, (name, e) => new CpuKernelError(name, e));
}

/** Makes the native kernels GPTQ's default when the addon loads and has them; returns whether it did. */
export function registerNativeGptq(): boolean {
  const loaded = loadCpuAddon();
  const kernels = 'error' in loaded ? null : nativeGptqKernels(loaded.addon);
  if (kernels) setGptqKernels(kernels);
  return kernels !== null;
}
