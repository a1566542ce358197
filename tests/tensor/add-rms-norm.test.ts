// T.addRmsNorm, a residual add fused into the RMSNorm after it, against T.rmsNorm(T.add(x, r), w) on every
// float32 backend here (js, cpu; cuda on a GPU): both outputs and the gradients of x, r and w, with upstream
// gradients on both outputs (the transformer uses the sum as its residual stream and the norm as the next
// block's input), bit for bit on js and cpu; and near the float64 reference.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../src/backends/index.ts';
import * as T from '../../src/tensor/index.ts';
import { testedBackends, uniform } from './fixtures.ts';

const shape = [2, 5, 37]; // rows of 37: not a multiple of 4 or 8
const n = 2 * 5 * 37;
const xData = uniform(n, 1).map((u, i) => (i < 37 ? 1e-3 * u : 4 * u)); // one row far smaller than the rest
const rData = uniform(n, 2);
const wData = uniform(37, 3).map((u) => 1 + 0.5 * u);
const gSumData = uniform(n, 4);
const gOutData = uniform(n, 5);

function run(backend: ReturnType<typeof T.getBackend>, fused: boolean) {
  return T.tidy(() => {
    const x = T.requireGrad(T.tensor(xData, shape, { backend }));
    const r = T.requireGrad(T.tensor(rData, shape, { backend }));
    const w = T.requireGrad(T.tensor(wData, [37], { backend }));
    let sum: T.Tensor;
    let out: T.Tensor;
    if (fused) ({ sum, out } = T.addRmsNorm(x, r, w, 1e-5));
    else {
      sum = T.add(x, r);
      out = T.rmsNorm(sum, w, 1e-5);
    }
    const loss = T.add(
      T.sum(T.mul(sum, T.tensor(gSumData, shape, { backend }))),
      T.sum(T.mul(out, T.tensor(gOutData, shape, { backend }))),
    );
    T.backward(loss);
    return {
      sum: sum.toArray(),
      out: out.toArray(),
      gx: x.grad!.toArray(),
      gr: r.grad!.toArray(),
      gw: w.grad!.toArray(),
    };
  });
}

type Result = ReturnType<typeof run>;
const fields = ['sum', 'out', 'gx', 'gr', 'gw'] as const;
const reference = run(T.getBackend('js64'), false);

function compare(ours: Result, want: Result, abs: number, rel: number) {
  for (const k of fields) {
    assert.equal(ours[k].length, want[k].length, k);
    for (let i = 0; i < want[k].length; i++) {
      const err = Math.abs(ours[k][i] - want[k][i]);
      if (!(err <= abs + rel * Math.abs(want[k][i])))
        assert.fail(`${k}[${i}]: ${ours[k][i]} vs ${want[k][i]}`);
    }
  }
}

for (const name of [...testedBackends, 'js64']) {
  test(`addRmsNorm on ${name}: sum, norm and all gradients as add then rmsNorm (bit for bit on js and cpu)`, () => {
    const backend = T.getBackend(name);
    const fused = run(backend, true);
    // js and cpu: the same float math in the same order. cuda's float4 variant sums squares in another order.
    if (name === 'js' || name === 'cpu' || name === 'js64') compare(fused, run(backend, false), 0, 0);
    else compare(fused, run(backend, false), 1e-7, 1e-6);
    compare(fused, reference, 1e-6, 1e-5);
  });
}

test('addRmsNorm refuses a residual or weight of the wrong shape, naming it', () => {
  const backend = T.getBackend('js');
  const x = T.zeros([2, 4], { backend });
  assert.throws(
    () => T.addRmsNorm(x, T.zeros([4], { backend }), T.ones([4], { backend })),
    /addRmsNorm.*residual has shape \[4\], expected \[2, 4\]/,
  );
  assert.throws(
    () => T.addRmsNorm(x, T.zeros([2, 4], { backend }), T.ones([3], { backend })),
    /addRmsNorm.*weight has shape \[3\], expected \[4\]/,
  );
});
