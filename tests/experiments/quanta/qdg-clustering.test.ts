import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jacobiEigen, topEigen } from '../../../src/experiments/quanta/qdg/eigen.ts';
import { kMeans } from '../../../src/experiments/quanta/qdg/kmeans.ts';
import { rankFrequency } from '../../../src/experiments/quanta/qdg/rank-frequency.ts';
import { cosineMatrix, spectralCluster } from '../../../src/experiments/quanta/qdg/spectral.ts';
import { seededRng } from '../../../src/laws/rng.ts';

function gaussian(rng: ReturnType<typeof seededRng>): number {
  return Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}

/** Synthetic "gradients": each cluster a random direction in d dimensions, members = direction + noise. */
function planted(sizes: number[], d: number, noise: number, seed: number) {
  const rng = seededRng(seed);
  const vectors: Float32Array[] = [];
  const truth: number[] = [];
  sizes.forEach((size, c) => {
    const direction = Float64Array.from({ length: d }, () => gaussian(rng));
    for (let i = 0; i < size; i++) {
      vectors.push(Float32Array.from(direction, (x) => x + noise * gaussian(rng)));
      truth.push(c);
    }
  });
  return { vectors, truth };
}

/** Fraction of pairs on which two labelings agree (same/different cluster): the Rand index. */
function randIndex(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let agree = 0;
  let pairs = 0;
  for (let i = 0; i < a.length; i++) {
    for (let j = i + 1; j < a.length; j++) {
      pairs++;
      if ((a[i] === a[j]) === (b[i] === b[j])) agree++;
    }
  }
  return agree / pairs;
}

test('spectral clustering recovers planted clusters of synthetic gradients', () => {
  const sizes = [60, 30, 15, 8, 4];
  const { vectors, truth } = planted(sizes, 300, 1.2, 3);
  const n = vectors.length;
  const { labels } = spectralCluster(cosineMatrix(vectors), n, sizes.length, { seed: 1 });
  assert.equal(randIndex(labels, truth), 1, 'every pair placed as planted');
  const rf = rankFrequency(labels);
  assert.deepEqual(rf.sizes, sizes);
});

test('the cosine matrix (engine product) matches a direct computation', () => {
  const { vectors } = planted([3, 2], 50, 0.5, 11);
  const c = cosineMatrix(vectors);
  for (let i = 0; i < 5; i++) {
    for (let j = 0; j < 5; j++) {
      let dot = 0;
      let ni = 0;
      let nj = 0;
      for (let d = 0; d < 50; d++) {
        dot += vectors[i][d] * vectors[j][d];
        ni += vectors[i][d] ** 2;
        nj += vectors[j][d] ** 2;
      }
      assert.ok(Math.abs(c[i * 5 + j] - dot / Math.sqrt(ni * nj)) < 1e-5);
      assert.equal(c[i * 5 + j], c[j * 5 + i]);
    }
  }
});

test('the orthogonal-iteration path gives the same clusters as Jacobi', () => {
  const sizes = [30, 20, 10];
  const { vectors, truth } = planted(sizes, 200, 1, 5);
  const cos = cosineMatrix(vectors);
  const { labels } = spectralCluster(cos, vectors.length, 3, { seed: 2, jacobiLimit: 10 });
  assert.equal(randIndex(labels, truth), 1);
});

test('with pure noise, clustering does not invent a planted structure', () => {
  const { vectors } = planted([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 300, 0, 9);
  const truth = [...Array(20).keys()].map((i) => (i < 10 ? 0 : 1));
  const { labels } = spectralCluster(cosineMatrix(vectors), 20, 2, { seed: 1 });
  // Random directions carry no two-group structure: agreement with an arbitrary split stays far from 1.
  assert.ok(randIndex(labels, truth) < 0.9);
});

test('Jacobi eigenpairs satisfy A v = lambda v and come sorted', () => {
  const rng = seededRng(1);
  const n = 12;
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) a[i * n + j] = a[j * n + i] = rng.next() - 0.5;
  const { values, vectors } = jacobiEigen(a, n);
  for (let k = 0; k < n; k++) {
    if (k > 0) assert.ok(values[k] <= values[k - 1]);
    for (let i = 0; i < n; i++) {
      let av = 0;
      for (let j = 0; j < n; j++) av += a[i * n + j] * vectors[k][j];
      assert.ok(Math.abs(av - values[k] * vectors[k][i]) < 1e-9);
    }
  }
  const trace = [...Array(n).keys()].reduce((s, i) => s + a[i * n + i], 0);
  assert.ok(Math.abs(values.reduce((s, v) => s + v, 0) - trace) < 1e-9);
});

test('orthogonal iteration finds the top eigenvalues of a PSD matrix', () => {
  const n = 8;
  const a = new Float64Array(n * n);
  [9, 5, 3, 1, 0.5, 0.2, 0.1, 0].forEach((v, i) => {
    a[i * n + i] = v;
  });
  const { values } = topEigen(a, n, 3);
  assert.deepEqual(
    [...values].map((v) => +v.toFixed(6)),
    [9, 5, 3],
  );
});

test('k-means separates well-separated blobs and refuses k > points', () => {
  const points = [0, 0.1, 0.2, 10, 10.1, 10.2].map((x) => Float64Array.of(x));
  const { labels } = kMeans(points, 2, { seed: 1 });
  assert.equal(labels[0], labels[2]);
  assert.equal(labels[3], labels[5]);
  assert.notEqual(labels[0], labels[3]);
  assert.throws(() => kMeans(points, 7), /clusters = 7 .*\[1, number of points = 6\]/);
  assert.throws(() => spectralCluster(new Float64Array(4).fill(1), 2, 3), /qdg\.clusters = 3/);
});

test('rank-frequency recovers the exponent of exact Zipf cluster sizes', () => {
  const labels: number[] = [];
  const sizes = [1, 2, 3, 4, 5, 6, 7, 8].map((r) => Math.round(400 * r ** -1.3));
  sizes.forEach((s, c) => {
    for (let i = 0; i < s; i++) labels.push(c);
  });
  const rf = rankFrequency(labels);
  assert.deepEqual(rf.sizes, sizes);
  assert.ok(Math.abs(rf.zipfExponent - 1.3) < 0.02, `exponent ${rf.zipfExponent}`);
});
