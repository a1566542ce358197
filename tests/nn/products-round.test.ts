// ForwardOptions.productsRound: where the backend's products round their operands (and so, in backward, their
// output gradients) to the compute type and its attention rounds q, k and v, as cuda does in the matching matmul
// mode, the model skips rounding a product's input value and its output's gradient again, and leaves a product's
// output value to the kernel that reads it (rope, swiglu, addRmsNorm; attention for v). The loss and every
// gradient must come out bit for bit the same, with fewer rounding passes: for Transformer++, with dropout, and
// for a LayerNorm / GELU arch with grouped-query attention and a bias. The backend here is js or cpu with products
// and attention that round their operands; tests/cuda/products-round.test.ts checks cuda itself.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../src/backends/index.ts';
import type { Backend } from '../../src/backends/backend.ts';
import { type ModelConfig, resolveModelConfig } from '../../src/nn/config.ts';
import * as T from '../../src/tensor/index.ts';
import { layerNormGelu } from './layer-norm-gelu.ts';
import { lossAndGrads } from './loss-and-grads.ts';

const backends = ['js', 'cpu'].filter((name) => 'backend' in T.tryBackend(name));

/** b whose matmul and attention (forward and backward) round their operands to `to` first (what cuda's bf16 /
 *  fp16 modes do); counts the model's roundTo passes. */
function roundingProducts<S>(b: Backend<S>, to: 'bf16' | 'f16', counter: { roundTo: number }): Backend<S> {
  const rounded = (x: S, n: number) => {
    const copy = b.alloc('f32', n);
    b.roundTo(x, copy, to, n);
    return copy;
  };
  return {
    ...b,
    name: `${b.name}-products-${to}`,
    matmul(a, bm, out, args) {
      const span = (stride: number, rows: number, cols: number) => (args.batch - 1) * stride + rows * cols;
      const [ra, rb] = [
        rounded(a, span(args.aBatchStride, args.m, args.k)),
        rounded(bm, span(args.bBatchStride, args.k, args.n)),
      ];
      b.matmul(ra, rb, out, args);
      b.free(ra);
      b.free(rb);
    },
    attention(q, k, v, out, lse, B, T, nh, hs, scale, causal) {
      const n = B * T * nh * hs;
      const [rq, rk, rv] = [rounded(q, n), rounded(k, n), rounded(v, n)];
      b.attention(rq, rk, rv, out, lse, B, T, nh, hs, scale, causal);
      for (const s of [rq, rk, rv]) b.free(s);
    },
    attentionGrad(q, k, v, out, lse, gOut, gq, gk, gv, B, T, nh, hs, scale, causal) {
      const n = B * T * nh * hs;
      const [rq, rk, rv] = [rounded(q, n), rounded(k, n), rounded(v, n)];
      b.attentionGrad(rq, rk, rv, out, lse, gOut, gq, gk, gv, B, T, nh, hs, scale, causal);
      for (const s of [rq, rk, rv]) b.free(s);
    },
    roundTo(x, out, t, n) {
      counter.roundTo++;
      b.roundTo(x, out, t, n);
    },
  };
}

const base = {
  vocabSize: 61,
  dModel: 32,
  nLayers: 2,
  nHeads: 4,
  context: 12,
  dFf: 72,
  tiedEmbeddings: false,
};

// Each model with the rounding passes productsRound saves per layer, forward and backward: the product inputs'
// values (3: the attention and MLP norms' outputs and attention's; SwiGLU rounds the fourth, its own output, as it
// stores it, either way), the product outputs' gradients (7: wq, wk, wv, wo, w_gate, w_up, w_down) and the
// values their readers round on load (q and k in rope, v in attention, gate and up in swiglu, wo and w_down in
// addRmsNorm). With RMSNorm, the norms' outputs' gradients (2) are rounded by the norms' backward as they load them.
// Under bf16 the fused LM head also leaves its logits' gradient to its products: one pass a chunk.
const models: [string, ModelConfig, number][] = [
  ['Transformer++', resolveModelConfig(base), 3 + 7 + 7 + 2],
  // Dropout sits between wo / w_down and the residual add: their outputs are rounded before it.
  ['Transformer++ with dropout', resolveModelConfig({ ...base, dropout: 0.25 }), 3 + 7 + 5 + 2],
  // QAT (int4 weights, int8 activations, int4 KV cache): v's product rounds it as it stores it, for the KV cache's
  // quantization (no STE mask) to read, where it was rounded by a pass; the activations' straight-through gradient
  // is the identity, so the norms still round theirs.
  [
    'Transformer++ QAT',
    resolveModelConfig({ ...base, precision: { weights: 'int4', activations: 'int8', kv: 'int4' } }),
    3 + 7 + 7 + 2,
  ],
  // LayerNorm: a plain add takes the residual deltas (wo, w_down rounded first); gelu its input (w_up rounded
  // first); wq has a bias (its output rounded after the add, gradient too); two key/value heads for four.
  [
    'LayerNorm, GELU, grouped-query attention, a bias',
    resolveModelConfig({
      ...base,
      arch: layerNormGelu({ nKvHeads: 2, headSize: 8, biases: ['attn.wq'] }),
    }),
    4 + 5 + 2,
  ],
];

// FP8 products need widths that are multiples of 16: d_ff 64, and 3 x 16 rows a batch.
const fp8Config = resolveModelConfig({
  ...base,
  dFf: 64,
  context: 16,
  precision: { weights: 'fp8_e4m3', activations: 'fp8_e4m3', kv: 'fp32', weightGranularity: 'tensor' },
});

for (const name of backends) {
  for (const compute of ['bf16', 'f16'] as const) {
    const counter = { roundTo: 0 };
    const wrapped = `${name}-products-${compute}`;
    T.registerBackend(wrapped, () => roundingProducts(T.getBackend(name), compute, counter));
    for (const [model, config, savedPerLayer] of models) {
      test(`${name}, ${compute}, ${model}: products that round leave loss and gradients bit for bit, in fewer passes`, () => {
        counter.roundTo = 0;
        const all = lossAndGrads(config, wrapped, { compute, productsRound: false });
        const roundingsAll = counter.roundTo;
        counter.roundTo = 0;
        const skipped = lossAndGrads(config, wrapped, { compute, productsRound: true });
        assert.equal(skipped.loss, all.loss);
        for (const key of Object.keys(all.grads)) assert.deepEqual(skipped.grads[key], all.grads[key], key);
        // The products' and attention's own roundings remain (they are not counted).
        const headChunks = compute === 'bf16' ? 1 : 0; // lossAndGrads' 3 x 12 rows are one chunk
        assert.equal(
          roundingsAll - counter.roundTo,
          config.nLayers * savedPerLayer + headChunks,
          `${roundingsAll} -> ${counter.roundTo}`,
        );
      });
    }
  }

  // FP8 linear layers (emulated here: roundTo, fakeQuant, matmul): the products quantize their inputs and their
  // outputs' gradients rounded to the compute type themselves (linearFp8's roundInput, roundGradient), so the
  // same holds. (No count: the emulation's own roundings are passes too.)
  for (const compute of ['bf16', 'f16'] as const) {
    test(`${name}, ${compute}, FP8 linear layers: products that round leave loss and gradients bit for bit`, () => {
      const wrapped = `${name}-products-${compute}`;
      const all = lossAndGrads(fp8Config, wrapped, { compute, productsRound: false, fp8Linear: true });
      const skipped = lossAndGrads(fp8Config, wrapped, { compute, productsRound: true, fp8Linear: true });
      assert.equal(skipped.loss, all.loss);
      for (const key of Object.keys(all.grads)) assert.deepEqual(skipped.grads[key], all.grads[key], key);
      // and FP8 it is: not the numbers of the model without it
      const plain = lossAndGrads(fp8Config, wrapped, { compute, productsRound: true });
      assert.notEqual(plain.loss, all.loss);
    });
  }

  test(`${name}: with products that do not round, productsRound does change the numbers (it skips roundings)`, () => {
    const config = models[0][1];
    const all = lossAndGrads(config, name, { compute: 'bf16', productsRound: false });
    const skipped = lossAndGrads(config, name, { compute: 'bf16', productsRound: true });
    const differs = Object.keys(all.grads).some((k) =>
      all.grads[k].some((v, i) => v !== skipped.grads[k][i]),
    );
    assert.ok(differs || all.loss !== skipped.loss);
  });
}
