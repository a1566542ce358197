import assert from 'node:assert/strict';
import { test } from 'node:test';
import { analyzeStudy, type StudyRow } from '../../src/study/analyze.ts';
import { studyRows } from '../report/fixtures/study-rows.ts';

// Synthetic study data drawn from a known Kumar-form law (weights only), with PTQ results of full-precision runs.
const truth = {
  A: 300,
  B: 900,
  E: 1.5,
  alpha: 0.35,
  beta: 0.32,
  gamma_w: 2.5,
  C_T: 0.05,
  gamma_D: 0.5,
  gamma_N: 0.4,
  gamma_post: 0.6,
};
const bits: Record<string, number> = { fp32: 32, int8: 8, int4: 4, int3: 3, int2: 2 };

function lossOf(N: number, D: number, Pw: number, Ppost = Number.POSITIVE_INFINITY, parts = 1): number {
  const t = truth;
  const Neff = N * (1 - Math.exp(-Pw / t.gamma_w)) ** parts;
  const delta = Number.isFinite(Ppost)
    ? ((t.C_T * D ** t.gamma_D) / Neff ** t.gamma_N) * Math.exp(-Ppost / t.gamma_post)
    : 0;
  return t.A / Neff ** t.alpha + t.B / D ** t.beta + t.E + delta;
}

/** allParts: weights, activations and KV cache quantized together (w = a = kv on every run). */
function rows(allParts = false): StudyRow[] {
  const out: StudyRow[] = [];
  let noise = 0.37;
  const jitter = () => 1 + 0.002 * Math.sin((noise += 1.7));
  for (const N of [1e5, 3e5, 1e6, 3e6]) {
    for (const D of [1e7, 3e7, 1e8]) {
      for (const w of ['fp32', 'int4', 'int3', 'int2']) {
        const id = `${N}-${D}-${w}`;
        const other = allParts ? w : 'fp32';
        const labels = { w, a: other, kv: other };
        const base = { N, D, Pw: bits[w], Pa: bits[other], Pkv: bits[other], labels };
        out.push({
          id,
          kind: 'train',
          status: 'done',
          Ppost: Number.POSITIVE_INFINITY,
          loss: lossOf(N, D, bits[w], Number.POSITIVE_INFINITY, allParts ? 3 : 1) * jitter(),
          ...base,
        });
        if (w !== 'fp32') continue;
        for (const post of ['int8', 'int4', 'int3']) {
          const loss = lossOf(N, D, 32, bits[post]) * jitter();
          out.push({
            id: `${id}-${post}`,
            kind: 'ptq',
            status: 'done',
            Ppost: bits[post],
            loss,
            source: id,
            ...base,
            labels: { ...base.labels, post, method: 'rtn' },
          });
        }
      }
    }
  }
  out.push({
    id: 'boom',
    kind: 'train',
    status: 'diverged',
    N: 1e5,
    D: 1e7,
    Pw: 2,
    Pa: 32,
    Pkv: 32,
    Ppost: Number.POSITIVE_INFINITY,
    loss: Number.NaN,
    labels: { w: 'int2', a: 'fp32', kv: 'fp32' },
  });
  return out;
}

test('the study analysis recovers the law behind synthetic runs and leaves diverged runs out', () => {
  // The synthetic law has alpha != beta, so the exponents are fitted separately here.
  const analysis = analyzeStudy(rows(), { bootstrap: 8, seed: 1, holdout: 0.2, tieExponents: false });
  assert.deepEqual(analysis.excluded, [{ id: 'boom', reason: 'diverged' }]);
  const byName = Object.fromEntries(analysis.fits.map((f) => [f.name, f]));
  for (const name of ['chinchilla', 'precision', 'ptq', 'unified'])
    assert.ok(byName[name].result, `${name}: ${byName[name].skipped}`);
  const precision = byName.precision.result!.params;
  assert.ok(
    Math.abs(precision.gamma_w - truth.gamma_w) / truth.gamma_w < 0.15,
    `gamma_w ${precision.gamma_w}`,
  );
  assert.ok(Math.abs(precision.E - truth.E) < 0.1, `E ${precision.E}`);
  const ptq = byName.ptq.result!.params;
  assert.ok(
    Math.abs(ptq.gamma_post - truth.gamma_post) / truth.gamma_post < 0.2,
    `gamma_post ${ptq.gamma_post}`,
  );
  assert.ok(byName.chinchilla.result!.holdout, 'held-out error is reported');
  // Weights-only runs cannot decide the all-parts optimum: the analysis says so instead of answering.
  assert.deepEqual(analysis.optimalPrecision, []);
  assert.match(analysis.decision.undecided ?? '', /varied only Pw/);
  assert.match(analysis.decision.cost, /all trained parts/);
  // Every fit carries its diagnostics.
  const fit = byName.precision.result!;
  assert.ok(fit.quality.describes && fit.profile?.gamma_w, JSON.stringify(fit.quality));
});

test('parts quantized together share one gamma, and P* under the all-parts cost model is answered', () => {
  const analysis = analyzeStudy(rows(true), { bootstrap: 0, seed: 1, holdout: 0, tieExponents: false });
  const precision = analysis.fits.find((f) => f.name === 'precision')!;
  assert.ok(precision.result, precision.skipped);
  assert.deepEqual(precision.result.form.tie, [['gamma_w', 'gamma_a', 'gamma_kv']]);
  assert.ok(
    Math.abs(precision.result.params.gamma_w / truth.gamma_w - 1) < 0.15,
    `${precision.result.params.gamma_w}`,
  );
  assert.equal(analysis.decision.undecided, undefined);
  assert.equal(analysis.optimalPrecision.length, 5);
  for (const o of analysis.optimalPrecision) {
    assert.ok(o.P !== undefined && o.P >= 1 && o.P <= 16, `P* ${o.P}`);
    // Measured precisions are 2..32 bits: an answer below 2 must be marked, with one inside.
    if (o.P < 2) assert.ok(o.extrapolated?.some((e) => e.variable === 'Pw') && o.inside);
  }
});

test('a grid that cannot support a fit says why instead of fitting noise', () => {
  const few = rows()
    .filter((r) => r.kind === 'train' && r.labels.w === 'fp32')
    .slice(0, 4);
  const analysis = analyzeStudy(few, { bootstrap: 0, seed: 1, holdout: 0 });
  const chinchilla = analysis.fits.find((f) => f.name === 'chinchilla')!;
  assert.equal(chinchilla.result, null);
  assert.match(chinchilla.skipped!, /4 runs for 4 parameters \(needs at least 6\)/);
  assert.match(analysis.fits.find((f) => f.name === 'precision')!.skipped!, /one precision/);
});

test('a gpu-small-like grid (bf16 base, all parts and weights alone): every law fitted, P* decided', () => {
  const analysis = analyzeStudy(studyRows({ gpu: true }), {
    bootstrap: 0,
    seed: 1,
    holdout: 0.2,
    tieExponents: false,
  });
  const byName = Object.fromEntries(analysis.fits.map((f) => [f.name, f]));
  for (const name of ['chinchilla', 'precision', 'ptq', 'unified'])
    assert.ok(byName[name].result, `${name}: ${byName[name].skipped}`);
  // bf16 is the baseline: Chinchilla and delta_PTQ are fitted on it.
  assert.ok(byName.chinchilla.rows.every((r) => r.labels.w === 'bf16'));
  assert.ok(byName.ptq.rows.length > 0 && byName.ptq.rows.every((r) => r.labels.w === 'bf16'));
  // Activations and KV cache always move together: one gamma for both.
  assert.deepEqual(byName.precision.result!.form.tie, [['gamma_a', 'gamma_kv']]);
  assert.equal(analysis.decision.undecided, undefined);
  assert.equal(analysis.optimalPrecision.length, 5);
});
