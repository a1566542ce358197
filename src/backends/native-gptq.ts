// GPTQ's four heavy kernels as numerics' GptqKernels, from either native addon: native/cpu/gptq.cc (OpenBLAS,
// bit-exact with the reference) or native/cuda/gptq_host.cu (for GPU hosts without OpenBLAS). numerics cannot
// load an addon itself (it stays free of Node), so the backends hand their kernels over here.
import type { GptqKernels } from '../numerics/gptq-kernels.ts';

/** The addon functions, positionally as GptqKernels' methods. */
export interface NativeGptqAddon {
  gptqHessian?: GptqKernels['hessian'];
  gptqInverseCholesky?: GptqKernels['inverseCholeskyUpper'];
  gptqQuantizeBlock?: GptqKernels['quantizeBlock'];
  gptqLazyUpdate?: GptqKernels['lazyUpdate'];
}

/** The addon's GPTQ kernels (each native error rethrown through `wrap`), or null when the build has none. */
export function nativeGptqKernelsOf(
  addon: NativeGptqAddon,
  wrap: (kernel: string, error: Error) => Error,
): GptqKernels | null {
  const { gptqHessian, gptqInverseCholesky, gptqQuantizeBlock, gptqLazyUpdate } = addon;
  if (!gptqHessian || !gptqInverseCholesky || !gptqQuantizeBlock || !gptqLazyUpdate) return null;
  function call<A extends unknown[]>(name: string, fn: (...args: A) => void, ...args: A): void {
    try {
      fn(...args);
    } catch (e) {
      throw wrap(name, e as Error);
    }
  }
  return {
    hessian: (...args) => call('gptqHessian', gptqHessian, ...args),
    inverseCholeskyUpper: (...args) => call('gptqInverseCholesky', gptqInverseCholesky, ...args),
    quantizeBlock: (...args) => call('gptqQuantizeBlock', gptqQuantizeBlock, ...args),
    lazyUpdate: (...args) => call('gptqLazyUpdate', gptqLazyUpdate, ...args),
  };
}
