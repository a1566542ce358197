// The transformer's fused ops (T.swiglu, T.roundTo, T.addRmsNorm) leave a small model's loss and gradients
// as they were. The unfused reference is the same backend with those three kernels replaced by the kernels they
// fuse (silu and mul, two casts, add and rmsNorm); the op tests (tests/tensor/fused-elementwise.test.ts,
// add-rms-norm.test.ts) check the ops' autograd against the unfused graphs. On js and cpu, in fp32 and under
// emulated bf16 and f16 compute, with dFf off its default.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../src/backends/index.ts';
import { resolveModelConfig } from '../../src/nn/config.ts';
import { initParams, lossOf } from '../../src/nn/transformer.ts';
import * as T from '../../src/tensor/index.ts';
import { unfused } from './unfused-backend.ts';

// cuda (bf16 products, contracted multiply-adds) has its own tolerances: tests/cuda/fused-step.test.ts.
const backends = ['js', 'cpu'].filter((name) => 'backend' in T.tryBackend(name));

for (const name of backends) T.registerBackend(`${name}-unfused`, () => unfused(T.getBackend(name)));

const config = resolveModelConfig({
  vocabSize: 61,
  dModel: 32,
  nLayers: 2,
  nHeads: 4,
  context: 12,
  dFf: 72,
  tiedEmbeddings: false,
});

/** Loss and every parameter's gradient after one backward pass. */
function lossAndGrads(backendName: string, compute: 'bf16' | 'f16' | undefined) {
  const backend = T.setDefaultBackend(backendName);
  const params = initParams(config, 7);
  const B = 3;
  const tokens = Array.from({ length: B * 12 }, (_, i) => (i * 17 + 5) % 61);
  const targets = Array.from({ length: B * 12 }, (_, i) => (i * 29 + 3) % 61);
  const result = T.tidy(() => {
    const x = T.tensor(tokens, [B, 12], { dtype: 'i32', backend });
    const y = T.tensor(targets, [B, 12], { dtype: 'i32', backend });
    const loss = lossOf(config, params, x, y, { train: true, compute });
    T.backward(loss);
    return {
      loss: loss.item(),
      grads: new Map([...params].map(([k, p]) => [k, Array.from(p.grad!.toArray())])),
    };
  });
  for (const p of params.values()) p.dispose();
  return result;
}

for (const name of backends) {
  for (const compute of [undefined, 'bf16', 'f16'] as const) {
    test(`a small model on ${name}, ${compute ?? 'fp32'} compute: fused loss and gradients equal the unfused`, () => {
      const fused = lossAndGrads(name, compute);
      const want = lossAndGrads(`${name}-unfused`, compute);
      assert.ok(Number.isFinite(fused.loss) && fused.loss > 3, `loss ${fused.loss}`); // ≈ ln 61 at init
      assert.ok(Math.abs(fused.loss - want.loss) <= 1e-6 * want.loss, `loss ${fused.loss} vs ${want.loss}`);
      for (const [k, g] of want.grads) {
        const ours = fused.grads.get(k)!;
        let scale = 0;
        for (const v of g) scale = Math.max(scale, Math.abs(v));
        assert.ok(scale > 0, `${k}: the gradient is all zeros`);
        for (let i = 0; i < g.length; i++) {
          if (!(Math.abs(ours[i] - g[i]) <= 1e-6 * scale)) assert.fail(`${k}[${i}]: ${ours[i]} vs ${g[i]}`);
        }
      }
    });
  }
}
