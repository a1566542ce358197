import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LbfgsbSolver, minimizeLbfgsb } from '../../src/laws/lbfgsb.ts';

const rosenbrock = (x: Float64Array, g: Float64Array) => {
  let f = 0;
  g.fill(0);
  for (let i = 0; i + 1 < x.length; i++) {
    const a = x[i + 1] - x[i] * x[i];
    const b = 1 - x[i];
    f += 100 * a * a + b * b;
    g[i] += -400 * x[i] * a - 2 * b;
    g[i + 1] += 200 * a;
  }
  return f;
};

test('unconstrained Rosenbrock in 6 dimensions converges to all ones', () => {
  const r = minimizeLbfgsb(rosenbrock, [-1.2, 1, -1.2, 1, -1.2, 1], { gtol: 1e-9, ftol: 0 });
  assert.ok(r.converged, r.reason);
  for (const v of r.x) assert.ok(Math.abs(v - 1) < 1e-5, `x = ${Array.from(r.x)}`);
});

test('bounds are respected and active at the constrained optimum', () => {
  // Minimum of (x-3)^2 + (y+2)^2 on [0,1] x [-1,5] is at (1, -1).
  const fn = (x: Float64Array, g: Float64Array) => {
    g[0] = 2 * (x[0] - 3);
    g[1] = 2 * (x[1] + 2);
    return (x[0] - 3) ** 2 + (x[1] + 2) ** 2;
  };
  const r = minimizeLbfgsb(fn, [0.5, 4], { lower: [0, -1], upper: [1, 5] });
  assert.ok(r.converged, r.reason);
  assert.ok(Math.abs(r.x[0] - 1) < 1e-12 && Math.abs(r.x[1] + 1) < 1e-12, `x = ${Array.from(r.x)}`);
});

test('Rosenbrock with a bound that cuts off the unconstrained minimum', () => {
  const r = minimizeLbfgsb(rosenbrock, [-1.2, 1], { upper: [0.5, Infinity], gtol: 1e-9 });
  assert.ok(Math.abs(r.x[0] - 0.5) < 1e-9, `x = ${Array.from(r.x)}`);
  assert.ok(Math.abs(r.x[1] - 0.25) < 1e-4, `x = ${Array.from(r.x)}`);
});

test('a solver is reusable and undefined regions are backed out of', () => {
  const solver = new LbfgsbSolver(1);
  // f = x - log(x): undefined for x <= 0, minimum at x = 1.
  const fn = (x: Float64Array, g: Float64Array) => {
    g[0] = 1 - 1 / x[0];
    return x[0] > 0 ? x[0] - Math.log(x[0]) : Number.POSITIVE_INFINITY;
  };
  for (const start of [0.01, 5, 30]) {
    const r = solver.minimize(fn, [start], { gtol: 1e-10 });
    assert.ok(Math.abs(r.x[0] - 1) < 1e-6, `from ${start}: ${r.x[0]} (${r.reason})`);
  }
  assert.equal(solver.minimize(fn, [-1]).reason, 'non-finite-start');
});
