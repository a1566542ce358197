// Packed 1-bit and ternary weight matrices: the bits a OneBit layer really stores. Layout (one idea, used by
// the file format and the native kernel alike): row-major, each row padded to whole bytes, codes least
// significant bit first within a byte (pack.ts's bit order), so row r starts at byte r * rowBytes.
//   sign1:    1 bit per weight, bit 1 = +1 (w >= 0), bit 0 = -1.
//   ternary2: 2 bits per weight, code 0 = 0, 1 = +1, 2 = -1 (3 is invalid).
import { packBits, unpackBits } from '../numerics/pack.ts';
import { OneBitError } from './errors.ts';

export type PackedFormat = 'sign1' | 'ternary2';
export const packedFormats: readonly PackedFormat[] = ['sign1', 'ternary2'];

export interface PackedMatrix {
  format: PackedFormat;
  rows: number;
  cols: number;
  /** rows * rowBytes(cols, format) bytes. */
  codes: Uint8Array;
}

export function codeBits(format: PackedFormat): 1 | 2 {
  return format === 'sign1' ? 1 : 2;
}

/** Bytes one packed row takes. */
export function rowBytes(cols: number, format: PackedFormat): number {
  return Math.ceil((cols * codeBits(format)) / 8);
}

export function packedMatrixBytes(rows: number, cols: number, format: PackedFormat): number {
  return rows * rowBytes(cols, format);
}

function checkShape(values: ArrayLike<number>, rows: number, cols: number): void {
  if (!Number.isSafeInteger(rows) || rows < 0 || !Number.isSafeInteger(cols) || cols < 0)
    throw new OneBitError('shape', `[${rows}, ${cols}]`, 'two non-negative integers');
  if (values.length !== rows * cols)
    throw new OneBitError('values.length', values.length, `rows * cols = ${rows * cols}`);
}

/** sign(W) packed 1 bit per weight (w >= 0 is +1, as svid.ts decides). */
export function packSigns(w: ArrayLike<number>, rows: number, cols: number): PackedMatrix {
  checkShape(w, rows, cols);
  const rb = rowBytes(cols, 'sign1');
  const codes = new Uint8Array(rows * rb);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = w[r * cols + c];
      if (Number.isNaN(v)) throw new OneBitError(`w[${r}, ${c}]`, v, 'a number (NaN has no sign)');
      if (v >= 0) codes[r * rb + (c >>> 3)] |= 1 << (c & 7);
    }
  }
  return { format: 'sign1', rows, cols, codes };
}

/** A matrix of values in {-1, 0, +1} packed 2 bits per weight. */
export function packTernary(t: ArrayLike<number>, rows: number, cols: number): PackedMatrix {
  checkShape(t, rows, cols);
  const rb = rowBytes(cols, 'ternary2');
  const codes = new Uint8Array(rows * rb);
  const row = new Uint8Array(cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = t[r * cols + c];
      if (v !== 0 && v !== 1 && v !== -1) throw new OneBitError(`t[${r}, ${c}]`, v, '-1, 0 or +1');
      row[c] = v === 0 ? 0 : v === 1 ? 1 : 2;
    }
    codes.set(packBits(row, 2), r * rb);
  }
  return { format: 'ternary2', rows, cols, codes };
}

/** The matrix's values (±1, or -1/0/+1) as fp32, row-major (rows, cols). */
export function unpackMatrix(p: PackedMatrix): Float32Array {
  const rb = rowBytes(p.cols, p.format);
  if (p.codes.length !== p.rows * rb)
    throw new OneBitError('codes.length', p.codes.length, `rows * rowBytes = ${p.rows * rb}`);
  const out = new Float32Array(p.rows * p.cols);
  for (let r = 0; r < p.rows; r++) {
    const row = p.codes.subarray(r * rb, (r + 1) * rb);
    if (p.format === 'sign1') {
      for (let c = 0; c < p.cols; c++) out[r * p.cols + c] = (row[c >>> 3] >>> (c & 7)) & 1 ? 1 : -1;
    } else {
      const codes = unpackBits(row, 2, p.cols);
      for (let c = 0; c < p.cols; c++) {
        const code = codes[c];
        if (code === 3) throw new OneBitError(`codes[${r}, ${c}]`, code, 'a ternary code 0, 1 or 2');
        out[r * p.cols + c] = code === 0 ? 0 : code === 1 ? 1 : -1;
      }
    }
  }
  return out;
}
