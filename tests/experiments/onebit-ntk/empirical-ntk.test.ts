// The empirical NTK must equal J J^T for a Jacobian computed independently of the autodiff path:
// by central finite differences for the full-precision network, by hand for the 1-bit one.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveRunConfig } from '../../../src/experiments/onebit-ntk/config.ts';
import { empiricalNtk } from '../../../src/experiments/onebit-ntk/empirical-ntk.ts';
import { outputScale, TwoLayerNet } from '../../../src/experiments/onebit-ntk/two-layer.ts';
import * as T from '../../../src/tensor/index.ts';

T.setDefaultBackend('js64'); // finite differences want doubles

const d = 3;
const probes = Float32Array.from([0.6, 0.0, 0.8, -0.48, 0.6, 0.64, 0.0, -1.0, 0.0, 0.36, 0.48, -0.8]);
const count = probes.length / d;

function jjT(jacobian: number[][]): number[] {
  return jacobian.flatMap((a) => jacobian.map((b) => a.reduce((s, v, q) => s + v * b[q], 0)));
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number) {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < actual.length; i++) {
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= tol * (1 + Math.abs(expected[i])),
      `K[${i}] = ${actual[i]}, expected ${expected[i]}`,
    );
  }
}

/** f(x_i) with the parameter vector theta = [latent (m*d), output (m)] evaluated in plain JS. */
function plainForward(theta: number[], m: number, x: ArrayLike<number>, onebit: boolean): number {
  let f = 0;
  for (let r = 0; r < m; r++) {
    let pre = 0;
    for (let j = 0; j < d; j++) {
      const w = theta[r * d + j];
      pre += (onebit ? (w >= 0 ? 1 : -1) : w) * x[j];
    }
    f += theta[m * d + r] * Math.max(0, pre);
  }
  return f / Math.sqrt(m);
}

test('full precision: empirical NTK equals J J^T with J from finite differences', () => {
  const config = resolveRunConfig({
    width: 4,
    inputDim: d,
    trainOutput: true,
    symmetricInit: false,
    seed: 3,
  });
  const { fp } = TwoLayerNet.twins(config);
  const theta = [...fp.latent.toArray(), ...fp.output.toArray()];
  const eps = 1e-6;
  const jacobian = Array.from({ length: count }, (_, i) => {
    const x = probes.subarray(i * d, (i + 1) * d);
    return theta.map((_, q) => {
      const up = theta.slice();
      const down = theta.slice();
      up[q] += eps;
      down[q] -= eps;
      return (plainForward(up, 4, x, false) - plainForward(down, 4, x, false)) / (2 * eps);
    });
  });
  assertClose(empiricalNtk(fp, probes, d), jjT(jacobian), 1e-6);
});

test('1-bit: empirical NTK equals J J^T with the straight-through Jacobian written by hand', () => {
  for (const ste of ['plain', 'tanh'] as const) {
    const m = 6;
    const config = resolveRunConfig({
      width: m,
      inputDim: d,
      trainOutput: true,
      symmetricInit: false,
      ste,
      seed: 5,
    });
    const { onebit } = TwoLayerNet.twins(config);
    const latent = onebit.latent.toArray();
    const a = onebit.output.toArray();
    const c = outputScale(config);
    // The STE window per latent weight: OneBit's 1.001 - tanh^2, or the identity.
    const window = Float64Array.from(latent, (w) => (ste === 'tanh' ? 1.001 - Math.tanh(w) ** 2 : 1));
    const jacobian = Array.from({ length: count }, (_, i) => {
      const x = probes.subarray(i * d, (i + 1) * d);
      const row: number[] = [];
      const pre = Array.from({ length: m }, (_, r) => {
        let s = 0;
        for (let j = 0; j < d; j++) s += (latent[r * d + j] >= 0 ? 1 : -1) * x[j];
        return s;
      });
      for (let r = 0; r < m; r++)
        for (let j = 0; j < d; j++) row.push(c * a[r] * (pre[r] > 0 ? 1 : 0) * x[j] * window[r * d + j]);
      for (let r = 0; r < m; r++) row.push(c * Math.max(0, pre[r]));
      return row;
    });
    assertClose(empiricalNtk(onebit, probes, d), jjT(jacobian), 1e-9);
  }
});

test('the 1-bit forward pass uses ±1 weights: f matches the plain-JS network', () => {
  const config = resolveRunConfig({ width: 8, inputDim: d, symmetricInit: false, seed: 9 });
  const { onebit } = TwoLayerNet.twins(config);
  const theta = [...onebit.latent.toArray(), ...onebit.output.toArray()];
  const f = T.tidy(() => onebit.forward(T.tensor(probes, [count, d])).toArray());
  for (let i = 0; i < count; i++) {
    assert.ok(Math.abs(f[i] - plainForward(theta, 8, probes.subarray(i * d, (i + 1) * d), true)) < 1e-12);
  }
});
