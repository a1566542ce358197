// GPTQ on the CUDA addon's host kernels (native/cuda/gptq_host.cu, for GPU hosts without OpenBLAS) against
// the TypeScript reference. Its factorization sums in another order than the reference, so a rounding tie may
// fall the other way: a few codes in ten thousand may differ, each by one step. Needs only the addon, no GPU.

import { CudaKernelError } from '../../src/backends/cuda/errors.ts';
import { loadCudaAddon } from '../../src/backends/cuda/load-addon.ts';
import { nativeGptqKernelsOf } from '../../src/backends/native-gptq.ts';
import { gptqKernelCases } from '../numerics/gptq-kernel-cases.ts';

const loaded = loadCudaAddon();
const kernels =
  'error' in loaded ? null : nativeGptqKernelsOf(loaded.addon, (n, e) => new CudaKernelError(n, e));
const skip =
  'error' in loaded ? loaded.error : kernels ? false : 'the CUDA addon has no GPTQ kernels: rebuild it';

gptqKernelCases('cuda host', kernels, skip, { factor: 1e-9, weight: 1e-3, codes: 1e-3 });
