// Diagnostics every fit carries: a design that cannot separate parameters is refused with their names;
// a form that misses the data is flagged; a parameter on its bound or never moved by the bootstrap is
// not reported as precise, and profile-likelihood intervals stand next to the bootstrap.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LawsDesignError } from '../../src/laws/errors.ts';
import { fitLaw } from '../../src/laws/fit.ts';
import { chinchillaForm } from '../../src/laws/forms/chinchilla.ts';
import { kumarForm } from '../../src/laws/forms/kumar.ts';
import { formByName } from '../../src/laws/forms/registry.ts';
import { synthesize, synthesizeAt } from './synthesize.ts';

const CHINCHILLA = { A: 406.4, B: 410.7, E: 1.69, alpha: 0.34, beta: 0.28 };

test('D = 100 N on every run: the fit refuses, naming N, D and the parameters it cannot separate', () => {
  const form = chinchillaForm();
  const points = [1e7, 3e7, 1e8, 3e8, 1e9, 3e9].map((N) => ({ N, D: 100 * N }));
  const data = synthesizeAt(form, CHINCHILLA, points, 0.003, 1);
  const err = assert.throws(
    () => fitLaw(form, data),
    (e: unknown) =>
      e instanceof LawsDesignError &&
      /N and D move together in log space \(D\/N = 100 on every run/.test(e.message) &&
      e.params.join(',') === 'A,B,alpha,beta',
  );
  assert.equal(err, undefined);
  // Asked to fit anyway, it warns with the same diagnosis.
  const fit = fitLaw(form, data, { design: 'warn', maxStarts: 50 });
  assert.ok(
    fit.warnings.some((w) => w.startsWith('design: N and D move together')),
    fit.warnings.join('; '),
  );
  assert.equal(fit.design[0].kind, 'collinear');
});

test('precisions varied only together: gamma_w and gamma_a are named, not the shared parameters', () => {
  const form = kumarForm('precision', { parts: ['w', 'a'] });
  const truth = { ...CHINCHILLA, gamma_w: 2.5, gamma_a: 2 };
  const points = [3e7, 1e8, 3e8].flatMap((N) =>
    [1e9, 1e10].flatMap((D) => [3, 4, 6, 8].map((P) => ({ N, D, Pw: P, Pa: P }))),
  );
  const data = synthesizeAt(form, truth, points, 0.003, 2);
  assert.throws(
    () => fitLaw(form, data),
    (e: unknown) => e instanceof LawsDesignError && e.params.join(',') === 'gamma_w,gamma_a',
  );
  // Tied, they are one parameter and the design identifies it.
  const tied = formByName('precision', { parts: ['w', 'a'], tie: [['gamma_w', 'gamma_a']] });
  const fit = fitLaw(tied, data, { maxStarts: 50 });
  assert.equal(fit.design.length, 0);
});

test('a wrong form is flagged: the residual spread is compared with the data spread', () => {
  const truth = CHINCHILLA;
  const data = synthesize(
    chinchillaForm(),
    truth,
    { N: [1e7, 1e8, 1e9], D: [1e8, 1e9, 1e10, 1e11] },
    0.003,
    3,
  );
  const right = fitLaw(chinchillaForm(), data, { maxStarts: 200 });
  assert.ok(right.quality.describes && right.quality.r2 > 0.99, JSON.stringify(right.quality));
  assert.ok(!right.warnings.some((w) => w.includes('does not describe')));
  // A law in N alone cannot follow the losses' dependence on D.
  const wrong = fitLaw(formByName('kaplan:N'), data);
  assert.equal(wrong.quality.describes, false, JSON.stringify(wrong.quality));
  assert.ok(wrong.quality.r2 < 0.8);
  assert.ok(wrong.warnings.some((w) => w.startsWith('the form does not describe the data')));
});

test('a parameter at its bound: the bootstrap interval is flagged, the profile interval is open there', () => {
  // E + A/N^alpha with alpha held to >= 0.5, on runs whose true alpha is 0.3: the data push it past its bound.
  const free = formByName('E + A/N^alpha + B/D^beta');
  const form = {
    ...free,
    params: free.params.map((q) =>
      q.name === 'alpha' ? { ...q, lower: Math.log(0.5), starts: [Math.log(0.6)] } : q,
    ),
  };
  const data = synthesize(
    free,
    { ...CHINCHILLA, alpha: 0.3 },
    { N: [1e7, 1e8, 1e9], D: [1e8, 1e9, 1e10, 1e11] },
    0.002,
    4,
  );
  const fit = fitLaw(form, data, { bootstrap: 20, seed: 1, profile: true });
  assert.equal(fit.params.alpha, 0.5);
  assert.equal(fit.intervals?.alpha.flag, 'at-bound');
  assert.ok(
    fit.warnings.some((w) => w.startsWith('alpha = 0.5 sits on its bound')),
    fit.warnings.join('; '),
  );
  assert.deepEqual(fit.profile?.alpha.open, ['lower']);
  assert.equal(fit.profile?.alpha.lower, 0.5);
  // beta, free, gets a closed profile interval around its value and no flag.
  const b = fit.profile?.beta;
  assert.ok(
    b && b.open.length === 0 && b.lower < fit.params.beta && fit.params.beta < b.upper,
    JSON.stringify(b),
  );
  assert.equal(fit.intervals?.beta.flag, undefined);
});

test('a parameter the bootstrap never moves is flagged as collapsed, not reported as precise', () => {
  // The D term is negligible (B tiny) so B and beta sit where the optimizer left them.
  const form = chinchillaForm();
  const data = synthesize(
    form,
    { ...CHINCHILLA, B: 1e-9 },
    { N: [1e7, 1e8, 1e9], D: [1e8, 1e9, 1e10] },
    0.002,
    6,
  );
  const fit = fitLaw(form, data, {
    bootstrap: 10,
    seed: 1,
    starts: { A: [400], B: [1e-3], E: [1.7], alpha: [0.3], beta: [3] },
  });
  assert.equal(fit.intervals?.beta.flag, 'collapsed', JSON.stringify(fit.intervals));
  assert.ok(
    fit.warnings.some((w) => w.startsWith('beta: the bootstrap never moved it')),
    fit.warnings.join('; '),
  );
});

test('profile intervals agree with the bootstrap on a well-posed fit', () => {
  const data = synthesize(
    chinchillaForm(),
    CHINCHILLA,
    { N: [4e7, 1.6e8, 6e8, 2.5e9, 1e10], D: [1e9, 4e9, 1.6e10, 6.4e10, 2.5e11] },
    0.003,
    5,
  );
  const fit = fitLaw(chinchillaForm(), data, {
    bootstrap: 40,
    seed: 2,
    profile: true,
    delta: 1e-2,
    starts: { A: [400], B: [400], E: [1.7], alpha: [0.3], beta: [0.3] },
  });
  for (const name of ['E', 'alpha', 'beta']) {
    const b = fit.intervals![name];
    const pr = fit.profile![name];
    assert.equal(b.flag, undefined);
    assert.deepEqual(pr.open, []);
    const value = fit.params[name];
    assert.ok(pr.lower < value && value < pr.upper, `${name} ${JSON.stringify(pr)}`);
    const ratio = (pr.upper - pr.lower) / (b.upper - b.lower);
    assert.ok(
      ratio > 0.3 && ratio < 3,
      `${name}: profile ${JSON.stringify(pr)} vs bootstrap ${JSON.stringify(b)}`,
    );
  }
});
