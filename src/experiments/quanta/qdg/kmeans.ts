// k-means: k-means++ seeding, Lloyd iterations, the best of several restarts by within-cluster sum of squares.

import { seededRng } from '../../../laws/rng.ts';
import { QuantaConfigError } from '../errors.ts';

export interface KMeansResult {
  labels: Int32Array;
  centroids: Float64Array[];
  inertia: number;
}

export function kMeans(
  points: readonly Float64Array[],
  k: number,
  options: { restarts?: number; seed?: number; maxIter?: number } = {},
): KMeansResult {
  const n = points.length;
  if (!(Number.isInteger(k) && k >= 1 && k <= n)) {
    throw new QuantaConfigError('clusters', k, `an integer in [1, number of points = ${n}]`);
  }
  const rng = seededRng(options.seed ?? 0);
  let best: KMeansResult | null = null;
  for (let r = 0; r < (options.restarts ?? 10); r++) {
    const result = lloyd(points, seedPlusPlus(points, k, rng), options.maxIter ?? 100);
    if (!best || result.inertia < best.inertia) best = result;
  }
  return best!;
}

function distance2(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return s;
}

function seedPlusPlus(
  points: readonly Float64Array[],
  k: number,
  rng: ReturnType<typeof seededRng>,
): Float64Array[] {
  const centroids = [Float64Array.from(points[rng.int(points.length)])];
  const d2 = points.map((p) => distance2(p, centroids[0]));
  while (centroids.length < k) {
    const total = d2.reduce((a, b) => a + b, 0);
    let u = rng.next() * total;
    let pick = 0;
    while (pick < points.length - 1 && u >= d2[pick]) u -= d2[pick++];
    if (total === 0) pick = rng.int(points.length);
    centroids.push(Float64Array.from(points[pick]));
    points.forEach((p, i) => {
      d2[i] = Math.min(d2[i], distance2(p, centroids[centroids.length - 1]));
    });
  }
  return centroids;
}

function lloyd(points: readonly Float64Array[], centroids: Float64Array[], maxIter: number): KMeansResult {
  const n = points.length;
  const dim = points[0].length;
  const k = centroids.length;
  const labels = new Int32Array(n).fill(-1);
  let inertia = 0;
  for (let it = 0; it < maxIter; it++) {
    let changed = false;
    inertia = 0;
    for (let i = 0; i < n; i++) {
      let bestJ = 0;
      let bestD = Number.POSITIVE_INFINITY;
      for (let j = 0; j < k; j++) {
        const d = distance2(points[i], centroids[j]);
        if (d < bestD) {
          bestD = d;
          bestJ = j;
        }
      }
      if (labels[i] !== bestJ) {
        labels[i] = bestJ;
        changed = true;
      }
      inertia += bestD;
    }
    if (!changed) break;
    const sums = Array.from({ length: k }, () => new Float64Array(dim));
    const counts = new Int32Array(k);
    for (let i = 0; i < n; i++) {
      counts[labels[i]]++;
      for (let d = 0; d < dim; d++) sums[labels[i]][d] += points[i][d];
    }
    // An emptied cluster keeps its old centroid.
    for (let j = 0; j < k; j++) if (counts[j] > 0) centroids[j] = sums[j].map((s) => s / counts[j]);
  }
  return { labels, centroids, inertia };
}
