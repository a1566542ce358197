// A device storage of uniform values in [-0.5, 0.5): step-sized inputs for the kernel drivers (ncu-*.ts).
import type { CudaBackend, CudaStorage } from '../src/backends/cuda/cuda-backend.ts';

export function randomStorage(cuda: CudaBackend, length: number): CudaStorage {
  const s = cuda.alloc('f32', length);
  cuda.write(
    s,
    'f32',
    Float32Array.from({ length }, () => Math.random() - 0.5),
  );
  return s;
}
