// columnStats, the one op behind the outlier statistics (src/nn/outliers.ts), on every backend here (js, cpu, and
// cuda on a GPU) against the tensor-op formulation it replaced, computed in float64: max |x|, mean, second and
// fourth central moments, and per column the fraction of rows with |x| >= threshold.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../src/backends/index.ts';
import * as T from '../../src/tensor/index.ts';
import { testedBackends } from '../tensor/fixtures.ts';
import { assertNaNHandled, assertStatsClose, columnStatsCases, tensorOpStats } from './column-stats-cases.ts';

for (const name of testedBackends) {
  test(`columnStats on ${name} matches the tensor-op formulation in float64`, () => {
    const backend = T.getBackend(name);
    for (const c of columnStatsCases) {
      const ours = T.tidy(() => [
        ...T.columnStats(T.tensor(c.x, [c.rows, c.cols], { backend }), c.threshold).toArray(),
      ]);
      const ref = tensorOpStats(c.x, c.rows, c.cols, c.threshold);
      assertStatsClose(`${name}, ${c.name}`, ours, ref);
    }
  });

  test(`columnStats on ${name}: never-hit columns are 0, a hot column counts its rows, empty input gives zeros`, () => {
    const backend = T.getBackend(name);
    const c = columnStatsCases[0];
    const out = T.tidy(() =>
      T.columnStats(T.tensor(c.x, [c.rows, c.cols], { backend }), c.threshold).toArray(),
    );
    const hits = [...out.slice(4)];
    assert.equal(hits[11], 0.25, 'column 11 is ±9 on every fourth row');
    assert.ok(
      hits.every((h, i) => i === 11 || h < 0.01),
      'normal columns are (almost) never at 6 sigma',
    );
    assert.ok(hits.filter((h) => h === 0).length >= 40, 'most columns never hit');
    const edge = columnStatsCases.at(-1)!;
    const exact = T.tidy(() => T.columnStats(T.tensor(edge.x, [4, 3], { backend }), 6).toArray());
    assert.deepEqual([...exact.slice(4)], [0.5, 0.5, 0.25], '|x| = threshold counts, 5.999 does not');
    const empty = T.tidy(() => T.columnStats(T.zeros([0, 5], { backend }), 1).toArray());
    assert.deepEqual([...empty], new Array(9).fill(0));
    assertNaNHandled(name, (x, rows, cols) =>
      T.tidy(() => [...T.columnStats(T.tensor(x, [rows, cols], { backend }), 6).toArray()]),
    );
  });

  test(`columnStats on ${name} is deterministic and views a higher-rank input as (rows, last axis)`, () => {
    const backend = T.getBackend(name);
    const c = columnStatsCases[5];
    const run = (shape: number[]) =>
      T.tidy(() => [...T.columnStats(T.tensor(c.x, shape, { backend }), c.threshold).toArray()]);
    const flat = run([c.rows, c.cols]);
    assert.deepEqual(run([c.rows, c.cols]), flat);
    assert.deepEqual(run([16, c.rows / 16, c.cols]), flat);
  });
}
