import assert from 'node:assert/strict';
import { test } from 'node:test';
import { quantSpec } from '../../src/numerics/spec.ts';
import * as T from '../../src/tensor/index.ts';
import { canClip, type SteKind } from '../../src/tensor/ops/quant.ts';

const values = [0.3, -1.7, 2.5, -0.01, 1.1, -2.5, 0.9, 2.2];
const upstream = values.map((_, i) => i + 1);

function gradThrough(spec: ReturnType<typeof quantSpec>, ste: SteKind = 'clipped', xs = values): number[] {
  const [g] = T.grad((x) => T.sum(T.mul(T.fakeQuant(x, spec, ste), T.tensor(upstream))), [T.tensor(xs)]);
  return [...g.toArray()];
}

test('clipped straight-through: the identity where a symmetric absmax scale cannot clip, the extremes included', () => {
  for (const name of ['int4', 'int8', 'fp8_e4m3', 'nf4']) {
    const spec = quantSpec(name, { granularity: { kind: 'tensor' } });
    assert.equal(canClip(spec), false, name);
    assert.deepEqual(gradThrough(spec), upstream, name);
  }
});

test('clipped straight-through: zero gradient where a value was clipped (mse scale, absmean ternary)', () => {
  for (const spec of [quantSpec('int2', { scale: { kind: 'mse' } }), quantSpec('ternary')]) {
    assert.equal(canClip(spec), true);
    const g = gradThrough(spec);
    const zeros = g.filter((v) => v === 0).length;
    assert.ok(zeros >= 1 && zeros < values.length, `some but not all values clipped: ${g}`);
    for (const [i, v] of g.entries()) assert.ok(v === 0 || v === upstream[i]);
  }
});

test('plain straight-through: the identity, even where values are clipped', () => {
  assert.deepEqual(gradThrough(quantSpec('int2', { scale: { kind: 'mse' } }), 'plain'), upstream);
});

test("OneBit's tanh straight-through: dy * (1.001 - tanh(x)^2), so saturated latent weights still move", () => {
  const xs = [0, 1, -1, 20, -20, 0.5, 3, -0.2];
  const g = gradThrough(quantSpec('binary'), 'tanh', xs);
  for (const [i, x] of xs.entries()) {
    const want = upstream[i] * (1.001 - Math.tanh(x) ** 2);
    assert.ok(Math.abs(g[i] - want) < 1e-6 * upstream[i], `x = ${x}: ${g[i]} vs ${want}`);
  }
  assert.ok(g[3] > 0 && Math.abs(g[3] / upstream[3] - 0.001) < 1e-6, 'saturated: 0.001 of the gradient');
});
