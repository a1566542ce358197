// Finds and loads the CUDA addon. When it is missing (no nvcc or GPU where it was built) or cannot start (no
// CUDA device here), says why and how to get it, so the caller can carry on with another backend.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { CudaAddon } from './addon-types.ts';

/** Where `npm run build:cuda` puts the addon; BITSCALE_CUDA_ADDON overrides it. */
export function cudaAddonPath(): string {
  return (
    process.env.BITSCALE_CUDA_ADDON ??
    fileURLToPath(new URL('../../../native/cuda/build/bitscale_cuda.node', import.meta.url))
  );
}

export type CudaAddonLoad = { addon: CudaAddon } | { error: string };

let cached: CudaAddonLoad | undefined;

/** The addon, or a message that says why it could not be loaded and how to build it. Loaded once. */
export function loadCudaAddon(): CudaAddonLoad {
  if (cached) return cached;
  const path = cudaAddonPath();
  if (!existsSync(path)) {
    cached = {
      error: `the CUDA addon is not built (no ${path}); on a machine with nvcc (CUDA 13), cuBLASLt and an NVIDIA GPU run \`npm run build:cuda\``,
    };
    return cached;
  }
  try {
    cached = { addon: createRequire(import.meta.url)(path) as CudaAddon };
  } catch (e) {
    cached = {
      error: `the CUDA addon at ${path} failed to load (${(e as Error).message}); it needs an NVIDIA GPU and driver, and a rebuild with \`npm run build:cuda\` after CUDA upgrades`,
    };
  }
  return cached;
}
