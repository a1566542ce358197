// Shared by the cuda tests: the backend when the addon and a GPU are here, else the reason to skip.
import type { CudaBackend, CudaStorage } from '../../src/backends/cuda/cuda-backend.ts';
import { createCudaBackend } from '../../src/backends/cuda/cuda-backend.ts';
import { loadCudaAddon } from '../../src/backends/cuda/load-addon.ts';
import { philoxFill } from '../../src/base/philox.ts';

function load(): { backend: CudaBackend } | { skip: string } {
  const loaded = loadCudaAddon();
  if ('error' in loaded) return { skip: loaded.error };
  return { backend: createCudaBackend() };
}

const loaded = load();
export const skip: string | false = 'skip' in loaded ? loaded.skip : false;
export const cuda = ('backend' in loaded ? loaded.backend : null) as CudaBackend;

export function upload(data: ArrayLike<number>, dtype: 'f32' | 'i32' = 'f32'): CudaStorage {
  const s = cuda.alloc(dtype, data.length);
  cuda.write(s, dtype, data);
  return s;
}

export function download(s: CudaStorage, n: number, dtype: 'f32' | 'i32' = 'f32'): Float32Array | Int32Array {
  return cuda.read(s, dtype, n) as Float32Array | Int32Array;
}

/** Relative error ‖a − b‖ / ‖b‖. */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-300));
}

export function assertClose(
  what: string,
  ours: ArrayLike<number>,
  ref: ArrayLike<number>,
  abs: number,
  rel: number,
) {
  if (ours.length !== ref.length) throw new Error(`${what}: length ${ours.length} vs ${ref.length}`);
  for (let i = 0; i < ref.length; i++) {
    const err = Math.abs(ours[i] - ref[i]);
    if (!(err <= abs + rel * Math.abs(ref[i]))) {
      throw new Error(`${what}[${i}]: ${ours[i]} vs reference ${ref[i]} (tolerance ${abs} + ${rel} |ref|)`);
    }
  }
}

/** n philox normals (stream 0) times scale. */
export function normal(n: number, seed: number, scale = 1): Float32Array {
  const x = new Float32Array(n);
  philoxFill(x, n, 'normal', seed, 0);
  for (let i = 0; i < n; i++) x[i] *= scale;
  return x;
}

/** Runs fn with the cuda matmul mode set, restoring the previous mode after. */
export function inMode<R>(mode: 'fp16' | 'bf16' | 'tf32' | 'fp32', fn: () => R): R {
  const previous = cuda.setMatmulMode(mode);
  try {
    return fn();
  } finally {
    cuda.setMatmulMode(previous);
  }
}
