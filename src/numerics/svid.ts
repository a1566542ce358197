// OneBit's Sign-Value-Independent Decomposition (Xu et al. 2024, arXiv 2402.11295): W ≈ sign(W) ⊙ (a b^T),
// with a b^T a rank-1 approximation of |W|, found either by power iteration (the top singular pair, SVD) or
// by rank-1 NMF with multiplicative updates (what OneBit's code uses). a becomes the layer's output scale h,
// b its input scale g. |W| is non-negative, so its top singular vectors are too (Perron-Frobenius).

import { assertFinite, NumericsError } from './errors.ts';
import { packBits } from './pack.ts';

export interface SvidResult {
  /** sign(W) as bits, 1 = non-negative, row-major, packed 8 per byte (pack.ts layout). */
  signs: Uint8Array;
  a: Float64Array; // (rows)
  b: Float64Array; // (cols)
  /** ||W - sign(W) ⊙ a b^T||_F / ||W||_F */
  relativeError: number;
}

export interface SvidOptions {
  method?: 'power' | 'nmf';
  iterations?: number;
}

export function svid(
  w: Float32Array | Float64Array,
  rows: number,
  cols: number,
  options: SvidOptions = {},
): SvidResult {
  const { method = 'power', iterations = method === 'power' ? 50 : 200 } = options;
  if (method !== 'power' && method !== 'nmf') throw new NumericsError('method', method, "'power' or 'nmf'");
  if (w.length < rows * cols)
    throw new NumericsError('w.length', w.length, `at least rows * cols = ${rows * cols}`);
  assertFinite('w', w, rows * cols);
  const abs = Float64Array.from(w.subarray(0, rows * cols), Math.abs);
  const a = new Float64Array(rows).fill(1);
  const b = new Float64Array(cols).fill(1);
  const wb = new Float64Array(rows);
  const wta = new Float64Array(cols);
  const products = () => {
    wb.fill(0);
    wta.fill(0);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += abs[r * cols + c] * b[c];
      wb[r] = s;
    }
  };
  const transposeProduct = () => {
    wta.fill(0);
    for (let r = 0; r < rows; r++) {
      const ar = a[r];
      for (let c = 0; c < cols; c++) wta[c] += abs[r * cols + c] * ar;
    }
  };
  const dot = (x: Float64Array) => x.reduce((s, v) => s + v * v, 0);
  for (let it = 0; it < iterations; it++) {
    if (method === 'power') {
      // a <- |W| b / ||b||^2, b <- |W|^T a / ||a||^2: alternating least squares, i.e. power iteration on |W| |W|^T.
      products();
      const bb = dot(b) || 1;
      for (let r = 0; r < rows; r++) a[r] = wb[r] / bb;
      transposeProduct();
      const aa = dot(a) || 1;
      for (let c = 0; c < cols; c++) b[c] = wta[c] / aa;
    } else {
      // Lee-Seung multiplicative updates for ||A - a b^T||_F^2: a <- a ⊙ (A b) / (a b^T b).
      products();
      const bb = dot(b);
      for (let r = 0; r < rows; r++) a[r] = bb > 0 ? (a[r] * wb[r]) / (a[r] * bb + 1e-30) : 0;
      transposeProduct();
      const aa = dot(a);
      for (let c = 0; c < cols; c++) b[c] = aa > 0 ? (b[c] * wta[c]) / (b[c] * aa + 1e-30) : 0;
    }
  }
  // Balance the two factors (same norm) so that neither underflows in fp16 storage.
  const balance = Math.sqrt(Math.sqrt(dot(b)) / (Math.sqrt(dot(a)) || 1)) || 1;
  for (let r = 0; r < rows; r++) a[r] *= balance;
  for (let c = 0; c < cols; c++) b[c] /= balance;
  const bits = new Uint8Array(rows * cols);
  let err = 0;
  let norm = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = w[r * cols + c];
      const positive = v >= 0;
      bits[r * cols + c] = positive ? 1 : 0;
      const d = v - (positive ? 1 : -1) * a[r] * b[c];
      err += d * d;
      norm += v * v;
    }
  }
  return { signs: packBits(bits, 1), a, b, relativeError: norm > 0 ? Math.sqrt(err / norm) : 0 };
}
