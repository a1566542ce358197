// The transformer's fused ops (T.swiglu, T.roundTo, T.addRmsNorm) leave a small model's loss and gradients
// as they were. The unfused reference is the same backend with those three kernels replaced by the kernels they
// fuse (silu and mul, two casts, add and rmsNorm); the op tests (tests/tensor/fused-elementwise.test.ts,
// add-rms-norm.test.ts) check the ops' autograd against the unfused graphs. On js and cpu, in fp32 and under
// emulated bf16 and f16 compute, with dFf off its default.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../src/backends/index.ts';
import { resolveModelConfig } from '../../src/nn/config.ts';
import * as T from '../../src/tensor/index.ts';
import { lossAndGrads } from './loss-and-grads.ts';
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

for (const name of backends) {
  for (const compute of [undefined, 'bf16', 'f16'] as const) {
    test(`a small model on ${name}, ${compute ?? 'fp32'} compute: fused loss and gradients equal the unfused`, () => {
      const fused = lossAndGrads(config, name, { compute });
      const want = lossAndGrads(config, `${name}-unfused`, { compute });
      assert.ok(Number.isFinite(fused.loss) && fused.loss > 3, `loss ${fused.loss}`); // ≈ ln 61 at init
      assert.ok(Math.abs(fused.loss - want.loss) <= 1e-6 * want.loss, `loss ${fused.loss} vs ${want.loss}`);
      for (const [k, g] of Object.entries(want.grads)) {
        const ours = fused.grads[k];
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
