// Spectral clustering of unit vectors by angle (Ng, Jordan & Weiss 2001, as QDG uses it): affinity
// A_ij = 1 - arccos(cos_ij) / pi (in [0, 1], 1 on the diagonal), normalized M = D^-1/2 A D^-1/2, the k
// eigenvectors of largest eigenvalue as a spectral embedding, rows scaled to unit length, then k-means.

import '../../../backends/index.ts';
import * as T from '../../../tensor/index.ts';
import { QuantaConfigError } from '../errors.ts';
import { jacobiEigen, topEigen } from './eigen.ts';
import { kMeans } from './kmeans.ts';

export interface SpectralOptions {
  seed?: number;
  /** Up to this many points use the exact Jacobi solver; above, orthogonal iteration. */
  jacobiLimit?: number;
}

export interface SpectralResult {
  labels: Int32Array;
  /** Top eigenvalues of the normalized affinity (descending). */
  eigenvalues: number[];
}

/** Clusters n points given their n x n cosine-similarity matrix (row-major). */
export function spectralCluster(
  cosine: Float64Array,
  n: number,
  clusters: number,
  options: SpectralOptions = {},
): SpectralResult {
  if (!(Number.isInteger(clusters) && clusters >= 1 && clusters <= n)) {
    throw new QuantaConfigError('qdg.clusters', clusters, `an integer in [1, number of tokens = ${n}]`);
  }
  const a = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) a[i] = 1 - Math.acos(Math.max(-1, Math.min(1, cosine[i]))) / Math.PI;
  const degree = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) degree[i] += a[i * n + j];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) a[i * n + j] /= Math.sqrt(degree[i] * degree[j]);
  }
  // M's eigenvalues lie in [-1, 1] with the top one = 1; adding I makes it PSD for orthogonal iteration.
  const eig =
    n <= (options.jacobiLimit ?? 1000)
      ? jacobiEigen(a, n)
      : (() => {
          for (let i = 0; i < n; i++) a[i * n + i] += 1;
          const e = topEigen(a, n, clusters, 300, options.seed ?? 1);
          return { values: e.values.map((v) => v - 1), vectors: e.vectors };
        })();
  const embedding = Array.from({ length: n }, (_, i) => {
    const row = Float64Array.from({ length: clusters }, (_, j) => eig.vectors[j][i]);
    const norm = Math.hypot(...row) || 1;
    return row.map((x) => x / norm);
  });
  const { labels } = kMeans(embedding, clusters, { seed: options.seed ?? 0, restarts: 10 });
  return { labels, eigenvalues: [...eig.values.slice(0, clusters)] };
}

/** Cosine-similarity matrix of row vectors: one (n, d) x (d, n) product on the engine. */
export function cosineMatrix(vectors: readonly Float32Array[] | readonly Float64Array[]): Float64Array {
  const n = vectors.length;
  const d = vectors[0]?.length ?? 0;
  const unit = new Float32Array(n * d);
  vectors.forEach((v, i) => {
    let s = 0;
    for (let j = 0; j < d; j++) s += v[j] * v[j];
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < d; j++) unit[i * d + j] = v[j] * inv;
  });
  const gram = T.tidy(() =>
    T.noGrad(() => {
      const g = T.tensor(unit, [n, d]);
      return T.matmul(g, g, { transB: true }).toArray();
    }),
  );
  // Symmetrize exactly (float32 products can differ in the last bit) and clamp to [-1, 1].
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      c[i * n + j] = c[j * n + i] = Math.max(-1, Math.min(1, (gram[i * n + j] + gram[j * n + i]) / 2));
    }
  }
  return c;
}
