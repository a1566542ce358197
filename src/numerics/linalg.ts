// Dense Float64 linear algebra for GPTQ, row-major, written for the cache: every inner loop walks
// contiguous memory. Cholesky and the triangular inverse cost n^3/6 multiply-adds each.

import { NumericsError } from './errors.ts';

/** In place: the lower Cholesky factor L of a symmetric positive-definite (n, n) matrix (upper part zeroed). */
export function choleskyLower(a: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = 0; j <= i; j++) {
      const rj = j * n;
      let s0 = a[ri + j];
      let s1 = 0;
      let k = 0;
      for (; k + 1 < j; k += 2) {
        s0 -= a[ri + k] * a[rj + k];
        s1 -= a[ri + k + 1] * a[rj + k + 1];
      }
      if (k < j) s0 -= a[ri + k] * a[rj + k];
      const s = s0 + s1;
      if (i === j) {
        if (!(s > 0))
          throw new NumericsError(
            `hessian pivot [${i}]`,
            s,
            'a positive number (the matrix must be positive definite; raise dampPercent)',
          );
        a[ri + i] = Math.sqrt(s);
      } else a[ri + j] = s / a[rj + j];
    }
    for (let j = i + 1; j < n; j++) a[ri + j] = 0;
  }
}

/** The inverse of a lower-triangular (n, n) matrix, lower-triangular, as a new array. */
export function invertLower(l: Float64Array, n: number): Float64Array {
  // Solve row by row: M[i, :] = (e_i - Σ_{k<i} L[i, k] M[k, :]) / L[i, i]; each update is a contiguous axpy.
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let k = 0; k < i; k++) {
      const c = l[ri + k];
      if (c === 0) continue;
      const rk = k * n;
      for (let j = 0; j <= k; j++) m[ri + j] -= c * m[rk + j];
    }
    m[ri + i] += 1;
    const d = 1 / l[ri + i];
    for (let j = 0; j <= i; j++) m[ri + j] *= d;
  }
  return m;
}

/**
 * The upper-triangular U with U^T U = H^-1, the factor GPTQ reads its updates from, with one Cholesky and
 * one triangular inverse: for the reversal J, J H J = L L^T gives H^-1 = (J L^-1 J)^T (J L^-1 J).
 */
export function inverseCholeskyUpper(h: Float64Array, n: number): Float64Array {
  const reversed = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) reversed[i * n + j] = h[(n - 1 - i) * n + (n - 1 - j)];
  choleskyLower(reversed, n);
  const m = invertLower(reversed, n);
  const u = reversed; // reuse the buffer
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) u[i * n + j] = m[(n - 1 - i) * n + (n - 1 - j)];
  return u;
}
