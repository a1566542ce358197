import assert from 'node:assert/strict';
import { test } from 'node:test';
import { onebitGemmReference } from '../../src/onebit/gemv.ts';
import { onebitLinear, packLayer, signSte, svidInit } from '../../src/onebit/linear.ts';
import * as T from '../../src/tensor/index.ts';

const js64 = T.getBackend('js64');
const EPS = 1e-6;

function rand(n: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 1073741824 - 1;
  });
}
const leaf = (data: number[], shape: number[]) => T.requireGrad(T.tensor(data, shape, { backend: js64 }));

/** Central finite differences of f with respect to every element of `input`. */
function numericGrad(f: () => number, input: T.Tensor): number[] {
  const values = Array.from(input.toArray());
  return values.map((v, j) => {
    const at = (u: number) => {
      values[j] = u;
      js64.write(input.handle, 'f32', values);
      return T.noGrad(f);
    };
    const d = (at(v + EPS) - at(v - EPS)) / (2 * EPS);
    values[j] = v;
    js64.write(input.handle, 'f32', values);
    return d;
  });
}

function close(got: number[], want: number[], what: string): void {
  want.forEach((w, i) => {
    assert.ok(Math.abs(got[i] - w) <= 1e-6 + 1e-5 * Math.abs(w), `${what}[${i}]: autodiff ${got[i]} vs ${w}`);
  });
}

test('OneBit linear: gradients of X, g and h match finite differences; W gets the straight-through rule', () => {
  T.tidy(() => {
    const [batch, rows, cols] = [3, 5, 7];
    const x = leaf(rand(batch * cols, 1), [batch, cols]);
    // Latent weights away from 0, so finite differences never cross a sign flip.
    const w = leaf(
      rand(rows * cols, 2).map((v) => v + (v >= 0 ? 0.2 : -0.2)),
      [rows, cols],
    );
    const g = leaf(rand(cols, 3), [cols]);
    const h = leaf(rand(rows, 4), [rows]);
    const probe = T.tensor(rand(batch * rows, 5), [batch, rows], { backend: js64 });
    const objective = () => T.sum(T.mul(onebitLinear(x, w, g, h), probe)).item();
    T.backward(T.sum(T.mul(onebitLinear(x, w, g, h), probe)));
    for (const [name, t] of [
      ['x', x],
      ['g', g],
      ['h', h],
    ] as const)
      close(Array.from(t.grad!.toArray()), numericGrad(objective, t), name);

    // dW = dS ⊙ (1.001 - tanh² W), with dS the true gradient with respect to a continuous S = sign(W).
    const s = leaf(
      Array.from(w.toArray()).map((v) => (v >= 0 ? 1 : -1)),
      [rows, cols],
    );
    const withS = () => T.sum(T.mul(T.mul(T.matmul(T.mul(x, g), s, { transB: true }), h), probe)).item();
    const dS = numericGrad(withS, s);
    const want = Array.from(w.toArray()).map((v, i) => dS[i] * (1.001 - Math.tanh(v) ** 2));
    close(Array.from(w.grad!.toArray()), want, 'w');
  });
});

test('sign(0) is +1 in the forward, as the packed codes store it', () => {
  T.tidy(() =>
    assert.deepEqual(
      Array.from(signSte(T.tensor([-0.5, 0, 2], [3], { backend: js64 })).toArray()),
      [-1, 1, 1],
    ),
  );
});

test('SVID initialization (NMF and SVD) approximates W, and the packed layer computes the same product', () => {
  const [rows, cols] = [12, 20];
  // A weight whose magnitudes are close to rank 1: |W| ≈ u vᵀ with random signs and a little noise.
  const u = rand(rows, 6).map((v) => 1 + Math.abs(v));
  const v = rand(cols, 7).map((x) => 0.5 + Math.abs(x));
  const noise = rand(rows * cols, 8);
  const signs = rand(rows * cols, 9);
  const weight = Float32Array.from({ length: rows * cols }, (_, i) => {
    const m = u[Math.floor(i / cols)] * v[i % cols] * (1 + 0.05 * noise[i]);
    return signs[i] >= 0 ? m : -m;
  });
  for (const method of ['nmf', 'svd'] as const) {
    const init = svidInit(weight, rows, cols, method);
    assert.ok(init.relativeError < 0.05, `${method}: relative error ${init.relativeError}`);
    assert.ok(init.g.every((x) => x > 0) && init.h.every((x) => x > 0), `${method}: g, h positive`);
    T.tidy(() => {
      const x = rand(2 * cols, 10);
      const xt = T.tensor(x, [2, cols], { backend: js64 });
      const y = Array.from(
        onebitLinear(
          xt,
          T.tensor(init.w, [rows, cols], { backend: js64 }),
          T.tensor(init.g, [cols], { backend: js64 }),
          T.tensor(init.h, [rows], { backend: js64 }),
        ).toArray(),
      );
      const dense = Array.from(
        T.matmul(xt, T.tensor(weight, [rows, cols], { backend: js64 }), {
          transB: true,
        }).toArray(),
      );
      const err = Math.hypot(...y.map((yi, i) => yi - dense[i])) / Math.hypot(...dense);
      assert.ok(err < 0.1, `${method}: layer output error ${err} against x Wᵀ`);
      const packed = onebitGemmReference(packLayer(init.w, init.g, init.h), Float32Array.from(x), 2);
      close([...packed], y, `${method} packed`);
    });
  }
  assert.throws(() => svidInit(weight, rows, cols, 'qr' as 'nmf'), /method: qr/);
});
