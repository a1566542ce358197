// ForwardOptions.productsRound on cuda: in bf16 (fp16) mode the products cast their operands to bf16 (half)
// themselves and attention rounds q, k and v, so skipping the model's rounding of a product's input value and of
// its output's gradient, and leaving a product's output value to its reader (rope, swiglu and addRmsNorm round
// on load; attention rounds v), and rounding what only products and attention read as it is stored (kept as the
// 16-bit copy alone), must leave the loss and every gradient bit for bit as they were: for
// Transformer++, with dropout, under QAT, and for a LayerNorm / GELU arch with grouped-query attention and a bias. Skips
// without a GPU.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../src/backends/index.ts';
import { type ModelConfig, resolveModelConfig } from '../../src/nn/config.ts';
import { productsRoundTo } from '../../src/train/compute-dtype.ts';
import { layerNormGelu } from '../nn/layer-norm-gelu.ts';
import { lossAndGrads } from '../nn/loss-and-grads.ts';
import { cuda, skip } from './helpers.ts';

const base = { vocabSize: 512, dModel: 128, nLayers: 2, nHeads: 4, context: 64 };
// FP8 linear layers on the tensor cores (widths multiples of 16): they quantize their inputs and their outputs'
// gradients from the 16-bit copies (linearFp8's roundInput, roundGradient) and write bf16 outputs.
const fp8 = 'Transformer++ with FP8 linear layers (E4M3, per tensor)';
const models: [string, ModelConfig][] = [
  [
    fp8,
    resolveModelConfig({
      ...base,
      dFf: 384,
      precision: { weights: 'fp8_e4m3', activations: 'fp8_e4m3', kv: 'fp32', weightGranularity: 'tensor' },
    }),
  ],
  ['Transformer++', resolveModelConfig(base)],
  ['Transformer++ with dropout', resolveModelConfig({ ...base, dropout: 0.25 })],
  [
    'Transformer++ QAT (int4 weights, int8 activations, int4 KV cache)',
    resolveModelConfig({ ...base, precision: { weights: 'int4', activations: 'int8', kv: 'int4' } }),
  ],
  [
    'LayerNorm, GELU, grouped-query attention, a bias',
    resolveModelConfig({
      ...base,
      arch: layerNormGelu({ nKvHeads: 2, biases: ['attn.wq'] }),
    }),
  ],
];

for (const [compute, mode] of [
  ['bf16', 'bf16'],
  ['f16', 'fp16'],
] as const) {
  for (const [model, config] of models) {
    const fp8Linear = model === fp8;
    const noFp8 =
      fp8Linear && !skip && cuda.fp8Problem?.() !== null ? `no FP8 here: ${cuda.fp8Problem?.()}` : false;
    test(`cuda ${mode} mode, ${model}: skipping the roundings the kernels make leaves loss and gradients bit for bit`, {
      skip: skip || noFp8,
    }, () => {
      const previous = cuda.setMatmulMode(mode);
      try {
        assert.ok(productsRoundTo(cuda, compute), 'the products round to the compute type in this mode');
        const all = lossAndGrads(
          config,
          'cuda',
          { compute, productsRound: false, fp8Linear },
          { batch: 4, paramSeed: 3 },
        );
        const [kept, widened] = cuda.addon.halfOnlyCounts!();
        const skipped = lossAndGrads(
          config,
          'cuda',
          { compute, productsRound: true, fp8Linear },
          { batch: 4, paramSeed: 3 },
        );
        // Outputs read only by products and attention are kept as 16-bit copies (HalfOnly), and in Transformer++
        // nothing reads their f32 values.
        const [keptAfter, widenedAfter] = cuda.addon.halfOnlyCounts!();
        assert.ok(keptAfter > kept, 'outputs kept as 16-bit copies alone');
        if (model.startsWith('Transformer++')) assert.equal(widenedAfter, widened, 'none of them widened');
        assert.equal(skipped.loss, all.loss);
        for (const key of Object.keys(all.grads)) assert.deepEqual(skipped.grads[key], all.grads[key], key);
      } finally {
        cuda.setMatmulMode(previous);
      }
    });
  }
}
