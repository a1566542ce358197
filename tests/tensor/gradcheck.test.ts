// Every op's gradient on the float64 js backend against central finite differences.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as T from '../../src/tensor/index.ts';
import { makeInputs, opCases } from './op-cases.ts';

const js64 = T.getBackend('js64');
const EPS = 1e-6;
const TOL_ABS = 1e-6;
const TOL_REL = 1e-5;

/** A random linear functional of the output, so every output element's gradient path is exercised. */
function weightsFor(out: T.Tensor): T.Tensor {
  return T.randn(out.shape.slice(), { backend: js64, seed: 999 });
}

for (const c of opCases.filter((x) => !x.noFiniteDifference)) {
  test(`finite differences: ${c.name}`, () => {
    T.tidy(() => {
      const inputs = makeInputs(c, js64, 1);
      const out = c.fn(...inputs);
      const w = weightsFor(out);
      T.backward(T.sum(T.mul(out, w)));

      const objective = () =>
        T.noGrad(() => {
          const o = c.fn(...inputs);
          const value = T.sum(T.mul(o, w)).item();
          return value;
        });
      inputs.forEach((x, i) => {
        if (!x.requiresGrad) return;
        const analytic = x.grad!.toArray();
        const values = x.toArray();
        for (let j = 0; j < x.size; j++) {
          const v = values[j];
          values[j] = v + EPS;
          js64.write(x.handle, 'f32', values);
          const up = objective();
          values[j] = v - EPS;
          js64.write(x.handle, 'f32', values);
          const down = objective();
          values[j] = v;
          js64.write(x.handle, 'f32', values);
          const numeric = (up - down) / (2 * EPS);
          const err = Math.abs(analytic[j] - numeric);
          assert.ok(
            err <= TOL_ABS + TOL_REL * Math.abs(numeric),
            `${c.name}: input ${i} element ${j}: autodiff ${analytic[j]} vs finite difference ${numeric}`,
          );
        }
      });
    });
  });
}
