// sign(latent) x scale forward, straight-through backward, against the estimators' formulas.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { signSte } from '../../../src/experiments/onebit-ntk/sign-ste.ts';
import * as T from '../../../src/tensor/index.ts';

T.setDefaultBackend('js64');
const values = [-2.5, -0.7, -0.01, 0, 0.3, 1.2, 3];

test('forward: ±1 (unit) or ±mean|latent| (absmean), sign(0) = +1', () => {
  const x = T.tensor(values);
  assert.deepEqual([...signSte(x, 'unit', 'plain').toArray()], [-1, -1, -1, 1, 1, 1, 1]);
  const s = values.reduce((a, v) => a + Math.abs(v), 0) / values.length;
  const abs = signSte(x, 'absmean', 'plain').toArray();
  for (const [i, v] of values.entries()) assert.ok(Math.abs(abs[i] - (v >= 0 ? s : -s)) < 1e-12);
});

test('backward: plain, clipped and tanh straight-through gradients', () => {
  const gy = values.map((_, i) => i + 1);
  const gradOf = (ste: 'plain' | 'clipped' | 'tanh') => {
    const [g] = T.grad((x) => T.sum(T.mul(signSte(x, 'unit', ste), T.tensor(gy))), [T.tensor(values)]);
    return [...g.toArray()];
  };
  assert.deepEqual(gradOf('plain'), gy);
  assert.deepEqual(
    gradOf('clipped'),
    gy.map((g, i) => (Math.abs(values[i]) <= 1 ? g : 0)),
  );
  const tanh = gy.map((g, i) => g * (1.001 - Math.tanh(values[i]) ** 2));
  for (const [i, g] of gradOf('tanh').entries())
    assert.ok(Math.abs(g - tanh[i]) < 1e-12, `tanh STE at ${values[i]}`);
});
