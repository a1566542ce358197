// Storage of the js backend: plain typed arrays. A float64 variant of the backend (the finite-difference
// oracle) keeps 'f32' tensors in Float64Array; everything else is what the dtype says.
import type { DType } from '../backend.ts';

export type FloatArray = Float32Array | Float64Array;
export type JsStorage = FloatArray | Int32Array | Uint16Array;

export type FloatArrayConstructor = Float32ArrayConstructor | Float64ArrayConstructor;

export function allocate(dtype: DType, size: number, Float: FloatArrayConstructor): JsStorage {
  switch (dtype) {
    case 'f32':
      return new Float(size);
    case 'i32':
      return new Int32Array(size);
    case 'bf16':
    case 'f16':
      return new Uint16Array(size);
  }
}

/** Walks every index of `shape` in row-major order, calling visit(offsetA, offsetB, ...) with the offsets that
 *  each operand's strides give for that index. The workhorse of strided, binary and where. */
export function forEachStrided(
  shape: readonly number[],
  strides: readonly (readonly number[])[],
  visit: (offsets: Int32Array | number[]) => void,
  bases: readonly number[],
): void {
  const rank = shape.length;
  const count = shape.reduce((a, b) => a * b, 1);
  if (count === 0) return;
  const offsets = bases.slice();
  const index = new Array<number>(rank).fill(0);
  for (let n = 0; n < count; n++) {
    visit(offsets);
    // Increment the multi-index like an odometer, updating each operand's offset incrementally.
    for (let d = rank - 1; d >= 0; d--) {
      index[d]++;
      for (let o = 0; o < offsets.length; o++) offsets[o] += strides[o][d];
      if (index[d] < shape[d]) break;
      for (let o = 0; o < offsets.length; o++) offsets[o] -= strides[o][d] * shape[d];
      index[d] = 0;
    }
  }
}
