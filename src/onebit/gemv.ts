// Products with a packed layer: y (batch, rows) = h ⊙ ((x ⊙ g) Sᵀ) for x (batch, cols), S packed as in
// packed.ts: sign1 (S = ±1, OneBit) or ternary2 (S ∈ {-1, 0, +1}, BitNet b1.58; g and h then carry the
// per-tensor scale, e.g. g = 1, h = mean |W|). The native kernels (native/cpu/onebit.cc) when the addon has
// them, else the reference.
import { nativeOnebitGemm, nativeTernaryGemm } from '../backends/cpu/onebit-kernel.ts';
import { OneBitError } from './errors.ts';
import { type PackedFormat, rowBytes } from './packed.ts';
import type { PackedLinear } from './packed-file.ts';

function check(layer: PackedLinear, x: Float32Array, batch: number, format?: PackedFormat): void {
  const { rows, cols, codes } = layer.weight;
  if (format && layer.weight.format !== format)
    throw new OneBitError('weight.format', layer.weight.format, `'${format}' for this product`);
  const rb = rowBytes(cols, layer.weight.format);
  if (codes.length !== rows * rb)
    throw new OneBitError('weight.codes.length', codes.length, `rows * rowBytes = ${rows * rb}`);
  if (layer.g.length !== cols) throw new OneBitError('g.length', layer.g.length, `cols = ${cols}`);
  if (layer.h.length !== rows) throw new OneBitError('h.length', layer.h.length, `rows = ${rows}`);
  if (!Number.isSafeInteger(batch) || batch < 0 || x.length !== batch * cols)
    throw new OneBitError('x.length', x.length, `batch * cols = ${batch} * ${cols}`);
}

/** S[r, c] from the packed codes: ±1 (sign1) or -1/0/+1 (ternary2). */
function weightAt(codes: Uint8Array, rb: number, format: PackedFormat, r: number, c: number): number {
  if (format === 'sign1') return (codes[r * rb + (c >>> 3)] >>> (c & 7)) & 1 ? 1 : -1;
  const code = (codes[r * rb + (c >>> 2)] >>> (2 * (c & 3))) & 3;
  if (code === 3) throw new OneBitError(`codes[${r}, ${c}]`, code, 'a ternary code 0, 1 or 2');
  return code === 0 ? 0 : code === 1 ? 1 : -1;
}

/** The definition, one weight at a time, summed in float64: what every kernel is tested against. */
export function packedGemmReference(layer: PackedLinear, x: Float32Array, batch: number): Float32Array {
  check(layer, x, batch);
  const { rows, cols, codes, format } = layer.weight;
  const rb = rowBytes(cols, format);
  const y = new Float32Array(batch * rows);
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += weightAt(codes, rb, format, r, c) * x[b * cols + c] * layer.g[c];
      y[b * rows + r] = layer.h[r] * s;
    }
  }
  return y;
}

/** The sign1 reference (kept for the kernel tests that name it). */
export function onebitGemmReference(layer: PackedLinear, x: Float32Array, batch: number): Float32Array {
  check(layer, x, batch, 'sign1');
  return packedGemmReference(layer, x, batch);
}

type Kernel = ReturnType<typeof nativeOnebitGemm>;
const natives: Partial<Record<PackedFormat, Kernel>> = {};
const loaders: Record<PackedFormat, () => Kernel> = { sign1: nativeOnebitGemm, ternary2: nativeTernaryGemm };

function run(layer: PackedLinear, x: Float32Array, batch: number, out?: Float32Array): Float32Array {
  const { rows, cols, codes, format } = layer.weight;
  if (out && out.length < batch * rows)
    throw new OneBitError('out.length', out.length, `at least batch * rows = ${batch * rows}`);
  if (!(format in natives)) natives[format] = loaders[format]();
  const native = natives[format];
  if (!native) {
    const y = packedGemmReference(layer, x, batch);
    if (out) out.set(y);
    return out ?? y;
  }
  const y = out ?? new Float32Array(batch * rows);
  native(codes, layer.g, layer.h, x, y, rows, cols, batch);
  return y;
}

/** y = h ⊙ ((x ⊙ g) Sᵀ) for a sign1 layer, by the native kernel when there is one, else the reference. */
export function onebitGemm(
  layer: PackedLinear,
  x: Float32Array,
  batch: number,
  out?: Float32Array,
): Float32Array {
  check(layer, x, batch, 'sign1');
  return run(layer, x, batch, out);
}

/** y = h ⊙ ((x ⊙ g) Sᵀ) for either packed format (sign1 or ternary2). */
export function packedGemm(
  layer: PackedLinear,
  x: Float32Array,
  batch: number,
  out?: Float32Array,
): Float32Array {
  check(layer, x, batch);
  return run(layer, x, batch, out);
}
