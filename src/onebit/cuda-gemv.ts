// Packed layers on the GPU (native/cuda/onebit.cu): a PackedLinear's codes, g and h uploaded once, and the
// packed product on device storages. `cudaPackedLinear` / `cudaDenseLinear` wrap a layer as decode.ts's
// Linear (host vectors in and out, the product on the GPU), so the CPU decoder can run its linears there.
import type { CudaBackend, CudaStorage } from '../backends/cuda/cuda-backend.ts';
import { type Linear, type Linears, withOutputNorm } from './decode.ts';
import { OneBitError } from './errors.ts';
import type { PackedFormat } from './packed.ts';
import { rowBytes } from './packed.ts';
import type { PackedLinear } from './packed-file.ts';

export interface CudaPackedLayer {
  format: PackedFormat;
  rows: number;
  cols: number;
  /** The packed bytes, four to an i32 element (zero past the end). */
  codes: CudaStorage;
  g: CudaStorage;
  h: CudaStorage;
}

/** Whether this CUDA addon build has the packed kernels. */
export function hasCudaPackedKernels(cuda: CudaBackend): boolean {
  return typeof cuda.addon.packedGemm === 'function';
}

export function uploadPackedLayer(cuda: CudaBackend, layer: PackedLinear): CudaPackedLayer {
  const { format, rows, cols, codes } = layer.weight;
  if (codes.length !== rows * rowBytes(cols, format))
    throw new OneBitError(
      'weight.codes.length',
      codes.length,
      `rows * rowBytes = ${rows * rowBytes(cols, format)}`,
    );
  const words = new Int32Array(Math.ceil(codes.length / 4));
  new Uint8Array(words.buffer).set(codes);
  const store = (dtype: 'f32' | 'i32', data: Float32Array | Int32Array) => {
    const s = cuda.alloc(dtype, data.length);
    cuda.write(s, dtype, data);
    return s;
  };
  return {
    format,
    rows,
    cols,
    codes: store('i32', words),
    g: store('f32', layer.g),
    h: store('f32', layer.h),
  };
}

export function freePackedLayer(cuda: CudaBackend, layer: CudaPackedLayer): void {
  for (const s of [layer.codes, layer.g, layer.h]) cuda.free(s);
}

/** y (batch, rows) = h ⊙ ((x ⊙ g) Sᵀ) on device storages; queued on the stream, not synchronized. */
export function cudaPackedGemm(
  cuda: CudaBackend,
  layer: CudaPackedLayer,
  x: CudaStorage,
  batch: number,
  y: CudaStorage,
): void {
  const kernel = cuda.addon.packedGemm;
  if (!kernel)
    throw new OneBitError('cuda addon', 'without packedGemm', 'a build with native/cuda/onebit.cu');
  kernel.call(
    cuda.addon,
    layer.codes,
    layer.g,
    layer.h,
    x,
    y,
    layer.rows,
    layer.cols,
    batch,
    layer.format === 'ternary2',
  );
}

/** Host-in, host-out linear whose product runs on the GPU (x uploaded, y read back: one sync per call). */
function hostLinear(
  cuda: CudaBackend,
  rows: number,
  cols: number,
  product: (x: CudaStorage, batch: number, y: CudaStorage) => void,
): Linear {
  return {
    rows,
    cols,
    apply(x, batch, y) {
      const dx = cuda.alloc('f32', batch * cols);
      const dy = cuda.alloc('f32', batch * rows);
      cuda.write(dx, 'f32', x.subarray(0, batch * cols));
      product(dx, batch, dy);
      y.set(cuda.read(dy, 'f32', batch * rows));
      cuda.free(dx);
      cuda.free(dy);
    },
  };
}

export function cudaPackedLinear(cuda: CudaBackend, layer: PackedLinear): Linear {
  const device = uploadPackedLayer(cuda, layer);
  return hostLinear(cuda, device.rows, device.cols, (x, batch, y) =>
    cudaPackedGemm(cuda, device, x, batch, y),
  );
}

/** A dense fp32 W (rows, cols) on the GPU, multiplied in the backend's matmul mode (bf16 by default). */
export function cudaDenseLinear(cuda: CudaBackend, w: Float32Array, rows: number, cols: number): Linear {
  if (w.length !== rows * cols) throw new OneBitError('w.length', w.length, `rows * cols = ${rows * cols}`);
  const dw = cuda.alloc('f32', rows * cols);
  cuda.write(dw, 'f32', w);
  return hostLinear(cuda, rows, cols, (x, batch, y) =>
    cuda.addon.matmul(x, dw, y, 1, batch, rows, cols, false, true, 0, 0, 1, false),
  );
}

/** decode.ts's Linears on the GPU: packed layers by native/cuda/onebit.cu, dense ones by the backend's matmul. */
export function cudaLinears(cuda: CudaBackend): Linears {
  return {
    packed: (layer) => cudaPackedLinear(cuda, layer),
    dense: (w, rows, cols) => cudaDenseLinear(cuda, w, rows, cols),
    outputNorm: withOutputNorm,
  };
}
