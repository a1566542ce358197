// Products with a packed OneBit layer: y (batch, rows) = h ⊙ ((x ⊙ g) Sᵀ) for x (batch, cols), S = ±1 packed
// sign1 (packed.ts). The native kernel (native/cpu/onebit.cc) when the addon has it, else the reference.
import { nativeOnebitGemm } from '../backends/cpu/onebit-kernel.ts';
import { OneBitError } from './errors.ts';
import { rowBytes } from './packed.ts';
import type { PackedLinear } from './packed-file.ts';

function check(layer: PackedLinear, x: Float32Array, batch: number): void {
  const { format, rows, cols, codes } = layer.weight;
  if (format !== 'sign1') throw new OneBitError('weight.format', format, "'sign1' for the packed product");
  if (codes.length !== rows * rowBytes(cols, format))
    throw new OneBitError(
      'weight.codes.length',
      codes.length,
      `rows * ceil(cols / 8) = ${rows * rowBytes(cols, format)}`,
    );
  if (layer.g.length !== cols) throw new OneBitError('g.length', layer.g.length, `cols = ${cols}`);
  if (layer.h.length !== rows) throw new OneBitError('h.length', layer.h.length, `rows = ${rows}`);
  if (!Number.isSafeInteger(batch) || batch < 0 || x.length !== batch * cols)
    throw new OneBitError('x.length', x.length, `batch * cols = ${batch} * ${cols}`);
}

/** The definition, one weight at a time, summed in float64: what every kernel is tested against. */
export function onebitGemmReference(layer: PackedLinear, x: Float32Array, batch: number): Float32Array {
  check(layer, x, batch);
  const { rows, cols, codes } = layer.weight;
  const rb = rowBytes(cols, 'sign1');
  const y = new Float32Array(batch * rows);
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let c = 0; c < cols; c++) {
        const xg = x[b * cols + c] * layer.g[c];
        s += (codes[r * rb + (c >>> 3)] >>> (c & 7)) & 1 ? xg : -xg;
      }
      y[b * rows + r] = layer.h[r] * s;
    }
  }
  return y;
}

let native: ReturnType<typeof nativeOnebitGemm> | undefined;

/** y = h ⊙ ((x ⊙ g) Sᵀ) by the native kernel when there is one, else the reference. */
export function onebitGemm(
  layer: PackedLinear,
  x: Float32Array,
  batch: number,
  out?: Float32Array,
): Float32Array {
  check(layer, x, batch);
  native ??= nativeOnebitGemm();
  if (!native) {
    const y = onebitGemmReference(layer, x, batch);
    if (out) out.set(y);
    return out ?? y;
  }
  const { rows, cols, codes } = layer.weight;
  const y = out ?? new Float32Array(batch * rows);
  if (y.length < batch * rows)
    throw new OneBitError('out.length', y.length, `at least batch * rows = ${batch * rows}`);
  native(codes, layer.g, layer.h, x, y, rows, cols, batch);
  return y;
}
