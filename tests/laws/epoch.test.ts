// Epoch AI's Chinchilla refit, reproduced: their data, their procedure, their numbers.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { EPOCH_BOOTSTRAP, EPOCH_SINGLE_FIT, epochChinchillaDataset } from '../../src/laws/epoch.ts';
import { fitLaw } from '../../src/laws/fit.ts';
import { chinchillaForm } from '../../src/laws/forms/chinchilla.ts';
import { parseCsv } from '../../src/laws/table.ts';

const csv = readFileSync(
  new URL('../../data/validation/chinchilla_epoch_svg_extracted.csv', import.meta.url),
  'utf8',
);
const data = epochChinchillaDataset(parseCsv(csv).records);

test('the Epoch preparation keeps 240 points with D = FLOP / 6N', () => {
  assert.equal(data.n, 240);
  assert.ok(Math.max(...data.loss) < 3.45, 'the 5 highest-loss rows are dropped');
  const i = 17;
  assert.ok(
    Math.abs(data.columns.D[i] * 6 * data.columns.N[i] - data.columns.C[i]) < 1e-6 * data.columns.C[i],
  );
});

test("the full 4,500-start grid reproduces Epoch's single grid fit", () => {
  // Its speed is measured by `npm run bench:laws`, not asserted here: CI machines are shared.
  const fit = fitLaw(chinchillaForm(), data);
  assert.equal(fit.starts.total, 4500);
  const rel = (name: keyof typeof EPOCH_SINGLE_FIT) =>
    Math.abs(fit.params[name] / EPOCH_SINGLE_FIT[name] - 1);
  for (const name of ['E', 'alpha', 'beta'] as const)
    assert.ok(rel(name) < 0.01, `${name} = ${fit.params[name]}`);
  for (const name of ['A', 'B'] as const) assert.ok(rel(name) < 0.03, `${name} = ${fit.params[name]}`);
  // SciPy's L-BFGS-B from the same grid reaches 0.00101827403; ours must be at least as good.
  assert.ok(fit.objective <= 0.0010182741, `objective ${fit.objective}`);
});

test('the bootstrap gives standard errors of the size Epoch reports', () => {
  const fit = fitLaw(chinchillaForm(), data, {
    starts: { A: [400], B: [2000], E: [1.8], alpha: [0.35], beta: [0.35] },
    bootstrap: 80,
    seed: 3,
  });
  assert.ok(fit.intervals);
  for (const name of ['A', 'B', 'E', 'alpha', 'beta'] as const) {
    const ratio = fit.intervals[name].stderr / EPOCH_BOOTSTRAP[name].stderr;
    assert.ok(
      ratio > 0.4 && ratio < 2.5,
      `${name}: stderr ${fit.intervals[name].stderr} vs Epoch ${EPOCH_BOOTSTRAP[name].stderr}`,
    );
    assert.ok(fit.intervals[name].lower < fit.params[name] && fit.params[name] < fit.intervals[name].upper);
  }
  const again = fitLaw(chinchillaForm(), data, {
    starts: { A: [400], B: [2000], E: [1.8], alpha: [0.35], beta: [0.35] },
    bootstrap: 80,
    seed: 3,
  });
  assert.deepEqual(again.intervals, fit.intervals, 'same seed, same intervals');
});
