// The packed-weight product of Backend.packedGemm in plain TypeScript: the js backend's kernel, and the cpu
// backend's where its addon lacks the native one. Each weight is decoded from its code; sums in float64.
import type { FloatArray } from './storage.ts';

/** y (batch, rows) = h ⊙ ((x ⊙ g) Sᵀ), S's packed bytes four to an element of `codes` (Backend.packedGemm). */
export function packedGemm(
  codes: Int32Array,
  g: FloatArray,
  h: FloatArray,
  x: FloatArray,
  y: FloatArray,
  rows: number,
  cols: number,
  batch: number,
  ternary: boolean,
): void {
  const bytes = new Uint8Array(codes.buffer, codes.byteOffset, codes.byteLength);
  const rowBytes = ternary ? Math.ceil(cols / 4) : Math.ceil(cols / 8);
  const w = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * rowBytes;
    for (let c = 0; c < cols; c++) {
      if (ternary) {
        const code = (bytes[o + (c >>> 2)] >>> (2 * (c & 3))) & 3;
        w[c] = (code === 1 ? 1 : code === 2 ? -1 : 0) * g[c];
      } else w[c] = (bytes[o + (c >>> 3)] >>> (c & 7)) & 1 ? g[c] : -g[c];
    }
    for (let b = 0; b < batch; b++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += w[c] * x[b * cols + c];
      y[b * rows + r] = h[r] * s;
    }
  }
}
