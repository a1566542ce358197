import assert from 'node:assert/strict';
import { test } from 'node:test';
import { computeOptimal, criticalDataSize, precisionCurve } from '../../src/laws/optimize.ts';
import { predictLoss } from '../../src/laws/predict.ts';

const chinchilla = { A: 406.4, B: 410.7, E: 1.69, alpha: 0.34, beta: 0.28 };
const chinchillaFit = {
  form: { kind: 'chinchilla' },
  internal: [
    Math.log(chinchilla.A),
    Math.log(chinchilla.B),
    Math.log(chinchilla.E),
    chinchilla.alpha,
    chinchilla.beta,
  ],
};

test('compute-optimal N, D for Chinchilla match the closed form', () => {
  const C = 1e23;
  const r = computeOptimal(chinchillaFit, C);
  const { A, B, alpha, beta } = chinchilla;
  // N* = G (C/6)^(beta/(alpha+beta)), G = (alpha A / (beta B))^(1/(alpha+beta)).
  const G = ((alpha * A) / (beta * B)) ** (1 / (alpha + beta));
  const nStar = G * (C / 6) ** (beta / (alpha + beta));
  assert.ok(Math.abs(r.N / nStar - 1) < 1e-6, `N* ${r.N} vs ${nStar}`);
  assert.ok(Math.abs((6 * r.N * r.D) / C - 1) < 1e-12);
  assert.equal(r.P, undefined);
});

const kumar = {
  A: 4299,
  B: 18060,
  E: 2.7648,
  alpha: 0.4965,
  beta: 0.4965,
  gamma_w: 2.6745,
  gamma_a: 2.2102,
  gamma_kv: 0.9578,
  C_T: 0.0598,
  gamma_D: 0.5068,
  gamma_N: 0.3439,
  gamma_post: 0.5907,
};
const precisionFit = {
  form: { kind: 'precision', options: { parts: ['w', 'a', 'kv'] } },
  internal: [
    ...[kumar.A, kumar.B, kumar.E].map(Math.log),
    kumar.alpha,
    kumar.beta,
    ...[kumar.gamma_w, kumar.gamma_a, kumar.gamma_kv].map(Math.log),
  ],
};

test('compute-optimal training precision is interior and the joint optimum beats its neighbours', () => {
  const curve = precisionCurve(precisionFit, [1e19, 1e21, 1e23]);
  for (const r of curve) {
    assert.ok(r.P !== undefined && r.P > 2 && r.P < 16, `P* = ${r.P}`);
    for (const P of [r.P - 0.5, r.P + 0.5]) {
      const other = computeOptimal(precisionFit, r.compute, { precision: { min: P, max: P } });
      assert.ok(other.loss >= r.loss - 1e-12, `P=${P} gives ${other.loss} < ${r.loss}`);
    }
    const P = r.P ?? 0;
    const [pred] = predictLoss(precisionFit, [{ N: r.N, D: r.D, Pw: P, Pa: P, Pkv: P }]);
    assert.ok(Math.abs(pred.loss - r.loss) < 1e-12);
  }
  // With alpha = beta the loss at the best N depends on P only through N_eff/N / P, so P* maximizes
  // prod_x (1 - exp(-P/gamma_x)) / P whatever the budget.
  const ratio = (P: number) =>
    [kumar.gamma_w, kumar.gamma_a, kumar.gamma_kv].reduce((f, g) => f * (1 - Math.exp(-P / g)), 1) / P;
  let best = 1;
  for (let P = 1; P <= 32; P += 1e-4) if (ratio(P) > ratio(best)) best = P;
  for (const r of curve) assert.ok(Math.abs((r.P ?? 0) - best) < 1e-3, `P* ${r.P} vs ${best}`);
  const integer = computeOptimal(precisionFit, 1e21, { precision: { integer: true } });
  assert.ok(Number.isInteger(integer.P));
});

test('critical data size for PTQ matches the closed form', () => {
  const fit = {
    form: { kind: 'ptq', options: { parts: [] } },
    internal: [
      Math.log(kumar.A),
      Math.log(kumar.B),
      Math.log(kumar.E),
      kumar.alpha,
      kumar.beta,
      Math.log(kumar.C_T),
      kumar.gamma_D,
      kumar.gamma_N,
      Math.log(kumar.gamma_post),
    ],
  };
  const N = 1e8;
  const P = 4;
  const r = criticalDataSize(fit, { N, Ppost: P });
  // d/dD [B D^-beta + C_T D^gD N^-gN e^(-P/gpost)] = 0.
  const { B, beta, C_T, gamma_D, gamma_N, gamma_post } = kumar;
  const exact =
    ((beta * B * N ** gamma_N * Math.exp(P / gamma_post)) / (gamma_D * C_T)) ** (1 / (beta + gamma_D));
  assert.ok(Math.abs(r.D / exact - 1) < 1e-6, `D* ${r.D} vs ${exact}`);
  // More post-training bits push the critical size out.
  assert.ok(criticalDataSize(fit, { N, Ppost: 6 }).D > r.D);
  assert.throws(() => criticalDataSize(precisionFit, { N, Pw: 8 }), /needs a form with D and Ppost/);
});
