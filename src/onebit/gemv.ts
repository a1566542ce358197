// Products with a packed layer: y (batch, rows) = h ⊙ ((x ⊙ g) Sᵀ) for x (batch, cols), S packed as in
// packed.ts: sign1 (S = ±1, OneBit) or ternary2 (S ∈ {-1, 0, +1}, BitNet b1.58; g and h then carry the
// per-tensor scale, e.g. g = 1, h = mean |W|). Two native kernels when the addon has them, else the reference:
//   exact: fp32 sums of ±x⊙g (native/cpu/onebit.cc), equal to the reference up to fp32 summation order;
//   lut:   int8 table lookup (native/cpu/onebit_lut.cc), memory-bound; within a stated bound of exact
//          (lutErrorBound), the price of its speed.
import {
  nativeOnebitGemm,
  nativePackedLutGemm,
  nativeTernaryGemm,
  type PackedLutGemm,
} from '../backends/cpu/onebit-kernel.ts';
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

/** Rows per tile of the table-lookup kernel's codes layout. */
export const LUT_TILE = 64;
/** Code bytes per int8 scale block of the table-lookup kernel. */
export const LUT_BLOCK = 32;

/**
 * The codes rearranged for the table-lookup kernel: rows in tiles of 64; tile t, code byte j holds byte j of
 * rows 64t .. 64t + 63 (zero past the last row), 64 bytes contiguous, so one load feeds 64 (or 32) rows.
 */
export function tileCodes(weight: PackedLinear['weight']): Uint8Array {
  const { rows, cols, format, codes } = weight;
  const rb = rowBytes(cols, format);
  const tiles = Math.ceil(rows / LUT_TILE);
  const out = new Uint8Array(tiles * LUT_TILE * rb);
  for (let r = 0; r < rows; r++) {
    const t = Math.floor(r / LUT_TILE);
    const i = r % LUT_TILE;
    const base = t * LUT_TILE * rb + i;
    for (let j = 0; j < rb; j++) out[base + j * LUT_TILE] = codes[r * rb + j];
  }
  return out;
}

// One tiled copy per codes array, made on first use (a layer's weights do not change once packed).
const tiled = new WeakMap<Uint8Array, Uint8Array>();
let lutKernel: PackedLutGemm | null | undefined;

/** Whether the table-lookup kernel is built here (else packedGemvLut falls back to the exact product). */
export function hasLutKernel(): boolean {
  lutKernel ??= nativePackedLutGemm();
  return lutKernel !== null;
}

/**
 * y = h ⊙ ((x ⊙ g) Sᵀ) by the table-lookup kernel (either format): memory-bound, within lutErrorBound of the
 * exact product; a vector whose x ⊙ g has an inf or a NaN gets NaN outputs (its int8 tables cannot carry them).
 * Falls back to packedGemm when the addon lacks the kernel.
 */
export function packedGemvLut(
  layer: PackedLinear,
  x: Float32Array,
  batch: number,
  out?: Float32Array,
  kernel: PackedLutGemm | null = (lutKernel ??=
    nativePackedLutGemm()),
): Float32Array {
  check(layer, x, batch);
  if (!kernel) return run(layer, x, batch, out);
  const { rows, cols, codes, format } = layer.weight;
  if (out && out.length < batch * rows)
    throw new OneBitError('out.length', out.length, `at least batch * rows = ${batch * rows}`);
  let t = tiled.get(codes);
  if (!t) {
    t = tileCodes(layer.weight);
    tiled.set(codes, t);
  }
  const y = out ?? new Float32Array(batch * rows);
  kernel(t, layer.g, layer.h, x, y, rows, cols, batch, format === 'ternary2');
  return y;
}

/**
 * The most |y_lut - y_exact| can be for each output (batch, rows): |h[r]| times, over scale blocks, the
 * block's int8 step s = max |table entry| / 127 times half a step per table lookup. (Padded with 1% and a
 * little absolute slack for fp32 rounding of the tables and sums.)
 */
export function lutErrorBound(layer: PackedLinear, x: Float32Array, batch: number): Float64Array {
  check(layer, x, batch);
  const { rows, cols, format } = layer.weight;
  const per = format === 'sign1' ? 4 : 2; // weights per nibble
  const groups = Math.ceil(cols / per);
  const bound = new Float64Array(batch * rows);
  for (let b = 0; b < batch; b++) {
    let total = 0;
    let abs = 0;
    for (let g0 = 0; g0 < groups; g0 += 2 * LUT_BLOCK) {
      let max = 0;
      let n = 0;
      for (let k = g0; k < Math.min(groups, g0 + 2 * LUT_BLOCK); k++, n++) {
        let s = 0;
        for (let c = k * per; c < Math.min(cols, (k + 1) * per); c++)
          s += Math.abs(x[b * cols + c] * layer.g[c]);
        max = Math.max(max, s);
        abs += s;
      }
      total += ((max / 127) * n) / 2;
    }
    for (let r = 0; r < rows; r++) bound[b * rows + r] = Math.abs(layer.h[r]) * (1.01 * total + 1e-6 * abs);
  }
  return bound;
}
