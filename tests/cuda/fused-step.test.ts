// A small model's loss and gradients on cuda with the fused kernels (swiglu, roundTo, addRmsNorm) against the
// same cuda backend with those kernels computed by the ones they replace (tests/nn/unfused-backend.ts), in
// fp32 and emulated bf16 compute. Not bit for bit: the fused kernels may contract multiply-adds and sum squares
// in another order, and a last-bit difference can flip a bf16 rounding downstream, so each gradient is compared
// by its relative error. Skips without a GPU.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../src/backends/index.ts';
import { resolveModelConfig } from '../../src/nn/config.ts';
import { initParams, lossOf } from '../../src/nn/transformer.ts';
import * as T from '../../src/tensor/index.ts';
import { unfused } from '../nn/unfused-backend.ts';
import { relError, skip } from './helpers.ts';

if (!skip) T.registerBackend('cuda-unfused', () => unfused(T.getBackend('cuda')));

const [B, context, vocab] = [4, 64, 256];
const config = resolveModelConfig({ vocabSize: vocab, dModel: 64, nLayers: 2, nHeads: 2, context });

function lossAndGrads(backendName: string, compute: 'bf16' | undefined) {
  const backend = T.setDefaultBackend(backendName);
  const params = initParams(config, 11);
  const tokens = Array.from({ length: B * context }, (_, i) => (i * 17 + 5) % vocab);
  const targets = Array.from({ length: B * context }, (_, i) => (i * 29 + 3) % vocab);
  const result = T.tidy(() => {
    const x = T.tensor(tokens, [B, context], { dtype: 'i32', backend });
    const y = T.tensor(targets, [B, context], { dtype: 'i32', backend });
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

for (const compute of [undefined, 'bf16'] as const) {
  test(`a small model on cuda, ${compute ?? 'fp32'} compute: fused loss and gradients match the unfused kernels`, {
    skip,
  }, () => {
    const fused = lossAndGrads('cuda', compute);
    const want = lossAndGrads('cuda-unfused', compute);
    assert.ok(Math.abs(fused.loss - want.loss) <= 1e-4 * want.loss, `loss ${fused.loss} vs ${want.loss}`);
    for (const [k, g] of want.grads) {
      const err = relError(fused.grads.get(k)!, g);
      assert.ok(err <= (compute ? 1e-2 : 1e-3), `${k}: relative error ${err}`);
    }
  });
}
