import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FORMAT_BITS } from '../../src/laws/cost.ts';
import { LawsUndecidedError } from '../../src/laws/errors.ts';
import {
  computeOptimal,
  criticalDataSize,
  optimumInterval,
  precisionCurve,
  undecidable,
} from '../../src/laws/optimize.ts';
import { predictLoss } from '../../src/laws/predict.ts';
import { kumar, precisionFit } from './kumar-fit.ts';

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

test('an answer outside the measured precisions is marked, with the nearest answer inside', () => {
  const measured = {
    ...precisionFit,
    ranges: { N: [1e7, 1e9], D: [1e9, 1e11], Pw: [6, 16], Pa: [6, 16], Pkv: [6, 16] },
  } as const;
  const [r] = precisionCurve(measured, [1e21]);
  assert.ok(r.P !== undefined && r.P < 6, `P* ${r.P}`);
  assert.deepEqual(
    r.extrapolated?.filter((e) => e.variable.startsWith('P')).map((e) => e.variable),
    ['Pw', 'Pa', 'Pkv'],
  );
  assert.ok(r.inside, 'the nearest answer inside is given');
  assert.ok(Math.abs((r.inside.P ?? 0) - 6) < 1e-6, `inside P ${r.inside.P}`);
  assert.ok(r.inside.loss >= r.loss);
  assert.match(r.cost, /C = 6·N·D·P\/16, all trained parts/);
  // JSON loses Infinity: a fit file's open range end reads back as null and still means unbounded.
  const json = JSON.parse(JSON.stringify({ ...measured, ranges: { ...measured.ranges, Pw: [2, Infinity] } }));
  const [again] = precisionCurve(json, [1e21]);
  assert.ok(!again.extrapolated?.some((e) => e.variable === 'Pw'));
});

test('weights-only runs asked for the all-parts optimum: the fit says it cannot decide', () => {
  const weightsOnly = {
    form: { kind: 'precision', options: { parts: ['w'] } },
    internal: [
      ...[kumar.A, kumar.B, kumar.E].map(Math.log),
      kumar.alpha,
      kumar.beta,
      Math.log(kumar.gamma_w),
    ],
  };
  assert.throws(
    () => precisionCurve(weightsOnly, [1e21]),
    (e: unknown) =>
      e instanceof LawsUndecidedError && /varied only Pw/.test(e.message) && /Pa, Pkv/.test(e.message),
  );
  assert.match(undecidable(weightsOnly) ?? '', /cannot decide the all-parts optimum/);
  // The weights-only memory question it can answer: N * P_w bits at a given D.
  const [m] = precisionCurve(weightsOnly, [8e9], { cost: { name: 'memory' }, fixed: { D: 1e11 } });
  assert.ok(m.P !== undefined && Math.abs((m.N * m.P) / 8e9 - 1) < 1e-12);
  assert.match(m.cost, /weights-only memory/);
  assert.throws(() => precisionCurve(weightsOnly, [8e9], { cost: { name: 'memory' } }), /fixed\.D/);
});

test('hardware cost model: formats by throughput; a missing throughput names the format', () => {
  const [h] = precisionCurve(precisionFit, [1e21], { cost: { name: 'hardware', hardware: 'hopper' } });
  assert.ok(h.format && ['bf16', 'fp16', 'fp8', 'int8'].includes(h.format));
  assert.equal(h.P, FORMAT_BITS[h.format]);
  // fp8 doubles the tokens x parameters a budget buys on Hopper.
  const [bf16] = precisionCurve(precisionFit, [1e21], {
    cost: { name: 'hardware', throughput: { bf16: 1 } },
  });
  const [fp8] = precisionCurve(precisionFit, [1e21], { cost: { name: 'hardware', throughput: { fp8: 2 } } });
  assert.ok(Math.abs((fp8.N * fp8.D) / (bf16.N * bf16.D) - 2) < 1e-9);
  assert.match(h.cost, /hopper throughput bf16 ×1, fp16 ×1, fp8 ×2, int8 ×2/);
  assert.throws(() => precisionCurve(precisionFit, [1e21], { cost: { name: 'hardware' } }), /throughput/);
  assert.throws(
    () => precisionCurve(precisionFit, [1e21], { cost: { name: 'hardware', throughput: { fp5: 3 } } }),
    /throughput\.fp5/,
  );
});

test('P* interval over bootstrap refits brackets P* and widens with the spread of gamma', () => {
  const gammaIndex = 5;
  const withSamples = (spread: number) => ({
    ...precisionFit,
    bootstrap: {
      samples: Array.from({ length: 20 }, (_, i) => {
        const s = [...precisionFit.internal];
        for (let k = 0; k < 3; k++) s[gammaIndex + k] += spread * Math.sin(i + k);
        return s;
      }),
    },
  });
  const [r] = precisionCurve(precisionFit, [1e21]);
  const narrow = optimumInterval(withSamples(0.02), 1e21);
  const wide = optimumInterval(withSamples(0.2), 1e21);
  assert.ok(narrow?.P && wide?.P);
  assert.ok(narrow.P[0] <= (r.P ?? 0) + 0.05 && (r.P ?? 0) - 0.05 <= narrow.P[1], `${r.P} in ${narrow.P}`);
  assert.ok(wide.P[1] - wide.P[0] > 3 * (narrow.P[1] - narrow.P[0]));
  assert.equal(optimumInterval(precisionFit, 1e21), undefined);
});
