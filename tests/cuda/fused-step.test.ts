// A small model's loss and gradients on cuda with the fused kernels (swiglu, roundTo, addRmsNorm) against the
// same cuda backend with those kernels computed by the ones they replace (tests/nn/unfused-backend.ts), in
// fp32 and emulated bf16 compute. Not bit for bit: the fused kernels may contract multiply-adds and sum squares
// in another order, and a last-bit difference can flip a bf16 rounding downstream, so each gradient is compared
// by its relative error. Skips without a GPU.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../src/backends/index.ts';
import { resolveModelConfig } from '../../src/nn/config.ts';
import * as T from '../../src/tensor/index.ts';
import { lossAndGrads } from '../nn/loss-and-grads.ts';
import { unfused } from '../nn/unfused-backend.ts';
import { relError, skip } from './helpers.ts';

if (!skip) T.registerBackend('cuda-unfused', () => unfused(T.getBackend('cuda')));

const [B, context, vocab] = [4, 64, 256];
const config = resolveModelConfig({ vocabSize: vocab, dModel: 64, nLayers: 2, nHeads: 2, context });

for (const compute of [undefined, 'bf16'] as const) {
  test(`a small model on cuda, ${compute ?? 'fp32'} compute: fused loss and gradients match the unfused kernels`, {
    skip,
  }, () => {
    const fused = lossAndGrads(config, 'cuda', { compute }, { batch: B, paramSeed: 11 });
    const want = lossAndGrads(config, 'cuda-unfused', { compute }, { batch: B, paramSeed: 11 });
    assert.ok(Math.abs(fused.loss - want.loss) <= 1e-4 * want.loss, `loss ${fused.loss} vs ${want.loss}`);
    for (const [k, g] of Object.entries(want.grads)) {
      const err = relError(fused.grads[k], g);
      assert.ok(err <= (compute ? 1e-2 : 1e-3), `${k}: relative error ${err}`);
    }
  });
}
