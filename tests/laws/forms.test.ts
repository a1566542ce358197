// Every built-in form: exact Jacobians (checked against central differences) and sane values.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { constrainForm } from '../../src/laws/constrain.ts';
import type { Form } from '../../src/laws/form.ts';
import { chinchillaForm } from '../../src/laws/forms/chinchilla.ts';
import { kaplanForm } from '../../src/laws/forms/kaplan.ts';
import { kumarForm } from '../../src/laws/forms/kumar.ts';
import { quantaExponents, quantaFromDataExponent } from '../../src/laws/quanta.ts';
import { kumar } from './kumar-fit.ts';

const n = 5;
const cols: Record<string, Float64Array> = {
  N: Float64Array.of(3e7, 6e7, 1.1e8, 2.2e8, 1e9),
  D: Float64Array.of(1.5e9, 3e9, 8e9, 2.6e10, 1e11),
  Pw: Float64Array.of(3, 4, 6, 8, Number.POSITIVE_INFINITY),
  Pa: Float64Array.of(4, 8, 8, 16, 16),
  Pkv: Float64Array.of(4, 4, 8, 8, 16),
  Ppost: Float64Array.of(2, 3, 4, 8, 6),
  C: Float64Array.of(1e17, 1e18, 1e19, 1e20, 1e21),
};

function checkJacobian(form: Form, theta: Float64Array) {
  const bound = form.bind(
    form.variables.map((v) => cols[v]),
    n,
  );
  const p = form.params.length;
  const out = new Float64Array(n);
  const jac = new Float64Array(n * p);
  bound.logPredict(theta, out, jac);
  for (const v of out) assert.ok(Number.isFinite(v));
  for (let j = 0; j < p; j++) {
    const h = 1e-6;
    const plus = new Float64Array(n);
    const minus = new Float64Array(n);
    theta[j] += h;
    bound.logPredict(theta, plus);
    theta[j] -= 2 * h;
    bound.logPredict(theta, minus);
    theta[j] += h;
    for (let i = 0; i < n; i++) {
      const fd = (plus[i] - minus[i]) / (2 * h);
      const name = form.params[j].name;
      assert.ok(
        Math.abs(fd - jac[i * p + j]) < 1e-6 * (1 + Math.abs(fd)),
        `${form.spec.kind} ${name} at ${i}: ${fd} vs ${jac[i * p + j]}`,
      );
    }
  }
  return out;
}

// Kumar et al.'s reported constants (unconfirmed) in internal space.
const kumarTheta = (form: Form) =>
  Float64Array.from(form.params, (q) => {
    const natural: Record<string, number> = { ...kumar, C_w: 1.2 };
    return q.space === 'log' ? Math.log(natural[q.name]) : natural[q.name];
  });

test('chinchilla and kaplan Jacobians are exact', () => {
  checkJacobian(chinchillaForm(), Float64Array.of(6, 7.5, 0.6, 0.35, 0.37));
  for (const v of ['N', 'D', 'C'] as const) checkJacobian(kaplanForm(v), Float64Array.of(30, 0.08));
});

test('Kumar precision, ptq and unified Jacobians are exact, all parts', () => {
  for (const kind of ['precision', 'ptq', 'unified'] as const) {
    const form = kumarForm(kind, { parts: ['w', 'a', 'kv'] });
    checkJacobian(form, kumarTheta(form));
  }
  const tied = constrainForm(kumarForm('unified'), { tie: [['alpha', 'beta']], fix: { C_w: 1.2 } });
  assert.deepEqual(
    tied.params.map((q) => q.name),
    ['A', 'B', 'E', 'alpha', 'gamma_w', 'C_T', 'gamma_D', 'gamma_N', 'gamma_post'],
  );
  checkJacobian(tied, kumarTheta(tied));
});

test('Kumar forms behave as the paper says', () => {
  const precision = kumarForm('precision');
  const unified = kumarForm('unified');
  const ptq = kumarForm('ptq');
  const at = (form: Form, values: Record<string, number>) => {
    const o = new Float64Array(1);
    form
      .bind(
        form.variables.map((v) => Float64Array.of(values[v])),
        1,
      )
      .logPredict(kumarTheta(form), o);
    return Math.exp(o[0]);
  };
  const bits = [2, 4, 8, 16, Number.POSITIVE_INFINITY].map((Pw) => at(precision, { N: 1e8, D: 2e9, Pw }));
  for (let i = 1; i < bits.length; i++) assert.ok(bits[i] < bits[i - 1], 'more training bits, lower loss');
  // Unified: PTQ to the precision trained in costs nothing; trained in high precision = plain ptq.
  const base = { N: 1e8, D: 1e10, Ppost: 4 };
  const noPtq = at(precision, { ...base, Pw: 4 });
  assert.ok(Math.abs(at(unified, { ...base, Pw: 4 }) - noPtq) < 1e-12);
  assert.ok(Math.abs(at(unified, { ...base, Pw: Number.POSITIVE_INFINITY }) - at(ptq, base)) < 1e-12);
  assert.ok(at(ptq, { ...base, Ppost: 3 }) > at(ptq, base), 'fewer post-training bits, higher loss');
  assert.ok(
    at(ptq, { ...base, D: 1e12 }) - at(precision, { ...base, D: 1e12, Pw: Infinity }) >
      at(ptq, base) - at(precision, { ...base, Pw: Infinity }),
    'PTQ hurts more with more data',
  );
});

test('quanta model exponent relations', () => {
  const q = quantaExponents(0.5);
  assert.equal(q.zipf, 1.5);
  assert.ok(Math.abs(q.alphaD - 1 / 3) < 1e-15);
  assert.ok(Math.abs(quantaFromDataExponent(q.alphaD).alphaN - 0.5) < 1e-12);
  assert.throws(() => quantaFromDataExponent(1.2), /alphaD = 1.2/);
});
