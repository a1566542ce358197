// AdamW's batched paths: a backend with sumSquaresMany and adamwMulti gives exactly what the per-tensor path gives.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AdamWArgs, Backend } from '../../src/backends/backend.ts';
import { createJsBackend } from '../../src/backends/js/js-backend.ts';
import type { JsStorage } from '../../src/backends/js/storage.ts';
import * as T from '../../src/tensor/index.ts';
import { AdamW } from '../../src/train/adamw.ts';

const config = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 0.5 };

/** A few steps on a matrix, a gain and a parameter without a gradient; returns the norms and every state. */
function train(backend: Backend) {
  const params = new Map([
    ['w', T.requireGrad(T.randn([6, 5], { backend, seed: 1 }).keep())],
    ['gain', T.requireGrad(T.full([5], 1, { backend }).keep())],
    ['unused', T.requireGrad(T.randn([3, 3], { backend, seed: 2 }).keep())],
  ]);
  const x = T.randn([4, 6], { backend, seed: 3 }).keep();
  const opt = new AdamW(params, config);
  const norms: number[] = [];
  for (let step = 0; step < 3; step++) {
    T.tidy(() => {
      const h = T.mul(T.matmul(x, params.get('w')!), params.get('gain')!);
      T.backward(T.sum(T.square(T.tanh(h))));
    });
    norms.push(opt.update(1e-2));
  }
  const state = [...params.keys()].flatMap((k) =>
    [params, opt.m, opt.v].map((m) => [...m.get(k)!.toArray()]),
  );
  return { norms, state };
}

test('sumSquaresMany and adamwMulti give the per-tensor results exactly, grouped by weight decay', () => {
  const js = createJsBackend();
  assert.ok(js.sumSquaresMany, 'the js backend has sumSquaresMany');
  const perTensor: Backend<JsStorage> = { ...js, name: 'js-per-tensor', sumSquaresMany: undefined };
  const calls: { sizes: number[]; weightDecay: number }[] = [];
  const batched: Backend<JsStorage> = {
    ...js,
    name: 'js-batched',
    adamwMulti(ps, gs, ms, vs, sizes, args: AdamWArgs) {
      calls.push({ sizes, weightDecay: args.weightDecay });
      for (const [k, p] of ps.entries()) js.adamw(p, gs[k], ms[k], vs[k], sizes[k], args);
    },
  };
  const reference = train(perTensor);
  const ours = train(batched);
  assert.deepEqual(ours.norms, reference.norms);
  assert.ok(reference.norms[0] > config.gradClip, 'the norm clips, so it feeds the update');
  assert.deepEqual(ours.state, reference.state);
  // Per step: the matrix with weight decay, the gain without; the parameter without a gradient is left out.
  assert.deepEqual(calls.slice(0, 2), [
    { sizes: [30], weightDecay: 0.1 },
    { sizes: [5], weightDecay: 0 },
  ]);
  assert.equal(calls.length, 6);
});
