// columnStats' test cases and its reference, shared by tests/nn/column-stats.test.ts (every backend here) and
// tests/cuda/outliers.test.ts (the GPU): the tensor-op formulation that LinearInputStats used before the op, in
// float64, and inputs that reach every path of the native kernels.
import assert from 'node:assert/strict';
import '../../src/backends/index.ts';
import * as T from '../../src/tensor/index.ts';

export const reference = T.getBackend('js64');

/** The formulation LinearInputStats used before columnStats: about ten tensor ops, here in float64. */
export function tensorOpStats(x: Float32Array, rows: number, cols: number, threshold: number): number[] {
  return T.tidy(() => {
    const t = T.tensor(x, [rows, cols], { backend: reference });
    const abs = T.abs(t);
    const mean = T.mean(t);
    const sq = T.square(T.sub(t, mean));
    const scalar = (s: T.Tensor) => T.reshape(s, [1]);
    const hits = T.mean(T.ge(abs, threshold), 0);
    const parts = [scalar(T.max(abs)), scalar(mean), scalar(T.mean(sq)), scalar(T.mean(T.square(sq))), hits];
    return [...T.concat(parts, 0).toArray()];
  });
}

/** Normal values times `scale` plus `offset`; column `hot` set to ±9 on every fourth row. */
function input(
  rows: number,
  cols: number,
  o: { seed: number; scale?: number; offset?: number; hot?: number },
) {
  const x = Float32Array.from(
    T.tidy(() => T.randn([rows * cols], { seed: o.seed, backend: reference }).toArray()),
    (v) => v * (o.scale ?? 1) + (o.offset ?? 0),
  );
  if (o.hot !== undefined) for (let r = 0; r < rows; r += 4) x[r * cols + o.hot] = r % 8 === 0 ? 9 : -9;
  return x;
}

export const columnStatsCases = [
  {
    name: 'an outlier column; the others are never hit',
    rows: 256,
    cols: 48,
    threshold: 6,
    x: input(256, 48, { seed: 1, hot: 11 }),
  },
  {
    name: 'width 37, not a multiple of 32',
    rows: 300,
    cols: 37,
    threshold: 2.5,
    x: input(300, 37, { seed: 2, hot: 36 }),
  },
  { name: 'one row', rows: 1, cols: 100, threshold: 1.5, x: input(1, 100, { seed: 3 }) },
  { name: 'one column', rows: 5000, cols: 1, threshold: 3, x: input(5000, 1, { seed: 4 }) },
  {
    name: 'wider than a block keeps in shared memory',
    rows: 3,
    cols: 9000,
    threshold: 2,
    x: input(3, 9000, { seed: 5 }),
  },
  // Many blocks or threads; a mean 100 sigma from zero, where raw power sums would cancel.
  {
    name: 'large, far from zero',
    rows: 4096,
    cols: 96,
    threshold: 103,
    x: input(4096, 96, { seed: 6, offset: 100 }),
  },
  {
    name: 'heavy tails, large values',
    rows: 512,
    cols: 64,
    threshold: 6e3,
    x: input(512, 64, { seed: 7, scale: 1e3, hot: 0 }),
  },
  {
    name: 'values exactly at ±threshold count',
    rows: 4,
    cols: 3,
    threshold: 6,
    x: Float32Array.of(6, -6, 5.999, 0, 0, 0, -6, 6, 7, 1, 2, 3),
  },
];

/** A NaN among finite values (as a diverging run leaves): max |x| and the hits pass it over, the moments are NaN. */
export function assertNaNHandled(
  what: string,
  stats: (x: Float32Array, rows: number, cols: number) => number[],
) {
  const x = Float32Array.of(1, -7, 2, Number.NaN, 0.5, 6.5);
  const out = stats(x, 3, 2);
  assert.equal(out[0], 7, `${what}: max |x|`);
  assert.ok(out.slice(1, 4).every(Number.isNaN), `${what}: mean and moments are NaN, got ${out.slice(1, 4)}`);
  assert.deepEqual(out.slice(4), [0, Math.fround(2 / 3)], `${what}: hits (NaN is not >= 6)`);
}

/** |ours - ref| <= abs + rel |ref|, element by element, naming the field. */
export function assertStatsClose(what: string, ours: ArrayLike<number>, ref: ArrayLike<number>) {
  assert.equal(ours.length, ref.length, `${what}: length`);
  const names = ['maxAbs', 'mean', 'm2', 'm4'];
  for (let i = 0; i < ref.length; i++) {
    const field = names[i] ?? `hits[${i - 4}]`;
    // maxAbs is one of the inputs and hit fractions are counts / rows: exact up to the f32 output's rounding. The
    // moments accumulate in double; the output is f32. The mean gets an absolute slack for a mean near zero.
    const [abs, rel] = i === 1 ? [1e-7 * Math.sqrt(ref[2]), 1e-6] : [0, i === 0 ? 0 : i < 4 ? 1e-6 : 1e-7];
    const err = Math.abs(ours[i] - ref[i]);
    assert.ok(err <= abs + rel * Math.abs(ref[i]), `${what} ${field}: ${ours[i]} vs reference ${ref[i]}`);
  }
}
