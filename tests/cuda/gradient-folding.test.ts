// Gradient folding on cuda (src/tensor/autograd.ts, GatheredGrads): a product accumulates into the gradient
// gathered from its input's other uses (cuBLASLt with beta 1) and RMSNorm's backward adds into it in its kernel,
// in place of an add. The same sums in another order: the loss is the same number and every gradient agrees with
// the unfolded graph to fp32 rounding, in fp32 and bf16 modes, for Transformer++ (RMSNorm) and a LayerNorm arch.
// Skips without a GPU.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../src/backends/index.ts';
import { resolveModelConfig } from '../../src/nn/config.ts';
import * as T from '../../src/tensor/index.ts';
import { layerNormGelu } from '../nn/layer-norm-gelu.ts';
import { lossAndGrads } from '../nn/loss-and-grads.ts';
import { cuda, skip } from './helpers.ts';

const base = { vocabSize: 256, dModel: 128, nLayers: 2, nHeads: 4, context: 64 };
const models = [
  ['Transformer++', resolveModelConfig(base)],
  [
    'LayerNorm, GELU',
    resolveModelConfig({
      ...base,
      arch: layerNormGelu(),
    }),
  ],
] as const;

for (const mode of ['fp32', 'bf16'] as const) {
  for (const [name, config] of models) {
    test(`cuda ${mode}, ${name}: folded gradients agree with the unfolded graph`, { skip }, () => {
      const previous = cuda.setMatmulMode(mode);
      const folding = T.setGradientFolding(false);
      try {
        const options = mode === 'bf16' ? ({ compute: 'bf16', productsRound: true } as const) : {};
        const unfolded = lossAndGrads(config, 'cuda', options, { batch: 4 });
        T.setGradientFolding(true);
        const folded = lossAndGrads(config, 'cuda', options, { batch: 4 });
        assert.equal(folded.loss, unfolded.loss);
        for (const key of Object.keys(unfolded.grads)) {
          const [a, b] = [folded.grads[key], unfolded.grads[key]];
          const scale = Math.max(...b.map(Math.abs));
          const worst = Math.max(...a.map((v, i) => Math.abs(v - b[i])));
          // bf16: an fp32 sum in another order may round a later bf16 rounding the other way.
          const tolerance = mode === 'fp32' ? 1e-5 : 2e-2;
          assert.ok(
            worst <= tolerance * scale,
            `${key}: largest difference ${worst} against largest |g| ${scale}`,
          );
        }
      } finally {
        T.setGradientFolding(folding);
        cuda.setMatmulMode(previous);
      }
    });
  }
}
