// Synthetic recovery: data drawn from known parameters with noise; the fit must land the truth inside
// its bootstrap intervals.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Dataset } from '../../src/laws/dataset.ts';
import { fitLaw } from '../../src/laws/fit.ts';
import type { Form } from '../../src/laws/form.ts';
import { chinchillaForm } from '../../src/laws/forms/chinchilla.ts';
import { efficiencyForm } from '../../src/laws/forms/efficiency.ts';
import { kumarForm } from '../../src/laws/forms/kumar.ts';
import { precisionCurve } from '../../src/laws/optimize.ts';
import { predictLoss } from '../../src/laws/predict.ts';
import { synthesize } from './synthesize.ts';

function assertRecovered(
  form: Form,
  data: Dataset,
  truth: Record<string, number>,
  starts?: Record<string, number[]>,
) {
  const fit = fitLaw(form, data, { bootstrap: 40, seed: 7, delta: 1e-2, starts });
  assert.ok(fit.intervals);
  for (const [name, value] of Object.entries(truth)) {
    const iv = fit.intervals[name];
    assert.ok(
      iv.lower <= value && value <= iv.upper,
      `${name}: truth ${value} outside [${iv.lower}, ${iv.upper}] (fit ${fit.params[name]})`,
    );
  }
  return fit;
}

test('Chinchilla parameters are recovered within their bootstrap intervals', () => {
  const form = chinchillaForm();
  const truth = { A: 406.4, B: 410.7, E: 1.69, alpha: 0.34, beta: 0.28 };
  const grid = {
    N: [4e7, 8e7, 1.6e8, 3e8, 6e8, 1.2e9, 2.5e9, 5e9, 1e10],
    D: [1e9, 2e9, 4e9, 8e9, 1.6e10, 3.2e10, 6.4e10, 1.3e11, 2.5e11, 5e11],
  };
  const data = synthesize(form, truth, grid, 0.003, 1);
  const fit = assertRecovered(form, data, truth, {
    A: [100, 1000],
    B: [100, 1000],
    E: [1, 2],
    alpha: [0.2, 0.5],
    beta: [0.2, 0.5],
  });
  assert.equal(fit.warnings.length, 0, fit.warnings.join('; '));
});

test('Kumar precision-form parameters (N_eff with gamma_w) are recovered', () => {
  const form = kumarForm('precision');
  const truth = { A: 4299, B: 18060, E: 2.7648, alpha: 0.4965, beta: 0.4965, gamma_w: 2.6745 };
  const grid = { N: [3e7, 6e7, 1.1e8, 2.2e8], D: [1.5e9, 4e9, 1e10, 2.6e10], Pw: [3, 4, 5, 6, 8, 12, 16] };
  assertRecovered(form, synthesize(form, truth, grid, 0.005, 2), truth);
});

test('Kumar PTQ-form parameters are recovered', () => {
  const form = kumarForm('ptq');
  const truth = {
    A: 4299,
    B: 18060,
    E: 2.7648,
    alpha: 0.4965,
    beta: 0.4965,
    C_T: 0.0598,
    gamma_D: 0.5068,
    gamma_N: 0.3439,
    gamma_post: 0.5907,
  };
  const grid = { N: [3e7, 6e7, 1.1e8, 2.2e8], D: [1.5e9, 4e9, 1e10, 2.6e10], Ppost: [3, 4, 5, 6, 8] };
  assertRecovered(form, synthesize(form, truth, grid, 0.003, 3), truth);
});

test('a constant precision column is flagged: gamma_w cannot be identified', () => {
  const form = kumarForm('precision');
  const truth = { A: 4299, B: 18060, E: 2.7648, alpha: 0.4965, beta: 0.4965, gamma_w: 2.6745 };
  const data = synthesize(form, truth, { N: [3e7, 1e8, 3e8], D: [1e9, 1e10, 1e11], Pw: [8] }, 0.003, 4);
  assert.throws(() => fitLaw(form, data, { maxStarts: 8 }), /Pw never varies \(8 on every run\): gamma_w/);
  const fit = fitLaw(form, data, { maxStarts: 8, design: 'warn' });
  assert.ok(
    fit.warnings.some((w) => w.startsWith('gamma_w cannot be identified')),
    fit.warnings.join('; '),
  );
});

test('hold-out: fitted on smaller runs, the error is reported on the largest', () => {
  const form = chinchillaForm();
  const truth = { A: 406.4, B: 410.7, E: 1.69, alpha: 0.34, beta: 0.28 };
  const data = synthesize(
    form,
    truth,
    { N: [4e7, 1e8, 3e8, 1e9, 3e9], D: [1e9, 1e10, 1e11, 1e12] },
    0.002,
    5,
  );
  const fit = fitLaw(form, data, {
    holdout: 4,
    starts: { A: [400], B: [400], E: [1.7], alpha: [0.3], beta: [0.3] },
  });
  assert.ok(fit.holdout);
  assert.equal(fit.points, 16);
  const size = (row: number) => data.columns.N[row - 1] * data.columns.D[row - 1];
  const cut = Math.min(...fit.holdout.rows.map(size));
  assert.equal(data.rows.filter((r) => size(r) >= cut).length, 4, 'the 4 largest runs are held out');
  assert.ok(fit.holdout.meanRelativeError < 0.02, `held-out error ${fit.holdout.meanRelativeError}`);
});

test('per-format efficiency factors (QuEST / Quartet) are recovered; optimize searches the fitted formats', () => {
  const form = efficiencyForm([4, 8, 16]);
  const truth = { A: 406.4, B: 410.7, E: 1.69, alpha: 0.34, beta: 0.28, eff_4: 0.55, eff_8: 0.9 };
  const grid = {
    N: [4e7, 1.6e8, 6e8, 2.5e9, 1e10],
    D: [1e9, 4e9, 1.6e10, 6.4e10, 2.5e11],
    Pw: [4, 8, 16],
  };
  const fit = fitLaw(form, synthesize(form, truth, grid, 0.003, 10), { bootstrap: 40, seed: 7, delta: 1e-2 });
  // Within three bootstrap standard errors of the truth (40 resamples give ragged percentile ends).
  for (const [name, value] of Object.entries(truth)) {
    const se = fit.intervals?.[name].stderr ?? 0;
    assert.ok(
      Math.abs(fit.params[name] - value) <= 3 * se,
      `${name}: ${fit.params[name]} ± ${se} vs ${value}`,
    );
  }
  // Weights-only memory at fixed D: the answer is one of the fitted formats.
  const [m] = precisionCurve(fit, [1e10], { cost: { name: 'memory' }, fixed: { D: 1e11 } });
  assert.ok([4, 8, 16].includes(m.P ?? 0), `P* ${m.P}`);
  assert.throws(
    () => predictLoss(fit, [{ N: 1e8, D: 1e9, Pw: 6 }]),
    /Pw = 6 is not a format of this efficiency law/,
  );
});
