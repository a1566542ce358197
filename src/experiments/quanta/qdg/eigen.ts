// Eigenvectors of a dense symmetric matrix: cyclic Jacobi rotations (exact to rounding, O(n^3) per sweep,
// fine for n <= 1000) and orthogonal subspace iteration for the top few of larger ones.

import { QuantaConfigError } from '../errors.ts';

export interface Eigen {
  /** Eigenvalues in descending order. */
  values: Float64Array;
  /** vectors[j] is the unit eigenvector of values[j]. */
  vectors: Float64Array[];
}

/** All eigenpairs of the symmetric n x n row-major matrix `a` (not modified). */
export function jacobiEigen(a: Float64Array, n: number, maxSweeps = 50): Eigen {
  const m = Float64Array.from(a);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    let diag = 0;
    for (let i = 0; i < n; i++) {
      diag += m[i * n + i] ** 2;
      for (let j = i + 1; j < n; j++) off += m[i * n + j] ** 2;
    }
    if (off <= 1e-22 * diag || off === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q];
        if (Math.abs(apq) < 1e-300) continue;
        // The rotation that zeroes m[p][q] (Golub & Van Loan 8.4.2, stable form).
        const theta = (m[q * n + q] - m[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k * n + p];
          const mkq = m[k * n + q];
          m[k * n + p] = c * mkp - s * mkq;
          m[k * n + q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p * n + k];
          const mqk = m[q * n + k];
          m[p * n + k] = c * mpk - s * mqk;
          m[q * n + k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = [...Array(n).keys()].sort((i, j) => m[j * n + j] - m[i * n + i]);
  return {
    values: Float64Array.from(order, (i) => m[i * n + i]),
    vectors: order.map((j) => Float64Array.from({ length: n }, (_, k) => v[k * n + j])),
  };
}

/**
 * The k eigenvectors of largest eigenvalue of a symmetric positive semi-definite matrix, by orthogonal
 * iteration (power iteration on a block, re-orthonormalized each round). Converges at rate
 * lambda_{k+1} / lambda_k, so it needs a gap, which clustered affinities have.
 */
export function topEigen(a: Float64Array, n: number, k: number, iterations = 300, seed = 1): Eigen {
  if (!(Number.isInteger(k) && k >= 1 && k <= n))
    throw new QuantaConfigError('k', k, `an integer in [1, n = ${n}]`);
  let state = seed >>> 0 || 1;
  const rand = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296 - 0.5;
  };
  let q: Float64Array[] = Array.from({ length: k }, () => Float64Array.from({ length: n }, rand));
  orthonormalize(q);
  const values = new Float64Array(k);
  for (let it = 0; it < iterations; it++) {
    q = q.map((x) => multiply(a, n, x));
    for (let j = 0; j < k; j++) values[j] = Math.hypot(...q[j]);
    orthonormalize(q);
  }
  // Rayleigh quotients for the final values.
  for (let j = 0; j < k; j++) values[j] = dot(q[j], multiply(a, n, q[j]));
  return { values, vectors: q };
}

function multiply(a: Float64Array, n: number, x: Float64Array): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += a[i * n + j] * x[j];
    y[i] = s;
  }
  return y;
}

function dot(x: Float64Array, y: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * y[i];
  return s;
}

/** Modified Gram-Schmidt in place. */
function orthonormalize(vectors: Float64Array[]): void {
  for (let j = 0; j < vectors.length; j++) {
    const v = vectors[j];
    for (let i = 0; i < j; i++) {
      const d = dot(v, vectors[i]);
      for (let r = 0; r < v.length; r++) v[r] -= d * vectors[i][r];
    }
    const norm = Math.sqrt(dot(v, v)) || 1;
    for (let r = 0; r < v.length; r++) v[r] /= norm;
  }
}
