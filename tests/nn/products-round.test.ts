// ForwardOptions.productsRound: where the backend's products round their operands (and so, in backward, their
// output gradients) to the compute type, as cuda does in the matching matmul mode, the model skips rounding a
// product's input value and its output's gradient again. The loss and every gradient must come out bit for bit
// the same, with fewer rounding passes. The backend here is js or cpu with products that round their operands;
// tests/cuda/products-round.test.ts checks cuda itself.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../src/backends/index.ts';
import type { Backend } from '../../src/backends/backend.ts';
import { resolveModelConfig } from '../../src/nn/config.ts';
import { initParams, lossOf } from '../../src/nn/transformer.ts';
import * as T from '../../src/tensor/index.ts';

const backends = ['js', 'cpu'].filter((name) => 'backend' in T.tryBackend(name));

/** b whose matmul rounds both operands to `to` first (what cuda's bf16 / fp16 modes do); counts roundTo passes. */
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
    roundTo(x, out, t, n) {
      counter.roundTo++;
      b.roundTo(x, out, t, n);
    },
  };
}

const config = resolveModelConfig({
  vocabSize: 61,
  dModel: 32,
  nLayers: 2,
  nHeads: 4,
  context: 12,
  dFf: 72,
  tiedEmbeddings: false,
});

function lossAndGrads(backendName: string, compute: 'bf16' | 'f16', productsRound: boolean) {
  const backend = T.setDefaultBackend(backendName);
  const params = initParams(config, 7);
  const B = 3;
  const tokens = Array.from({ length: B * 12 }, (_, i) => (i * 17 + 5) % 61);
  const targets = Array.from({ length: B * 12 }, (_, i) => (i * 29 + 3) % 61);
  const result = T.tidy(() => {
    const x = T.tensor(tokens, [B, 12], { dtype: 'i32', backend });
    const y = T.tensor(targets, [B, 12], { dtype: 'i32', backend });
    const loss = lossOf(config, params, x, y, { train: true, compute, productsRound });
    T.backward(loss);
    return {
      loss: loss.item(),
      grads: Object.fromEntries([...params].map(([k, p]) => [k, Array.from(p.grad!.toArray())])),
    };
  });
  for (const p of params.values()) p.dispose();
  return result;
}

for (const name of backends) {
  for (const compute of ['bf16', 'f16'] as const) {
    test(`${name}, ${compute}: products that round leave loss and gradients bit for bit, in fewer passes`, () => {
      const counter = { roundTo: 0 };
      const wrapped = `${name}-products-${compute}`;
      T.registerBackend(wrapped, () => roundingProducts(T.getBackend(name), compute, counter));
      const all = lossAndGrads(wrapped, compute, false);
      const roundingsAll = counter.roundTo;
      counter.roundTo = 0;
      const skipped = lossAndGrads(wrapped, compute, true);
      assert.equal(skipped.loss, all.loss);
      for (const key of Object.keys(all.grads)) assert.deepEqual(skipped.grads[key], all.grads[key], key);
      // Per layer: 4 product inputs' values, 7 product outputs' gradients; the products' own roundings remain.
      assert.equal(
        roundingsAll - counter.roundTo,
        config.nLayers * 11,
        `${roundingsAll} -> ${counter.roundTo}`,
      );
    });
  }

  test(`${name}: with products that do not round, productsRound does change the numbers (it skips roundings)`, () => {
    const all = lossAndGrads(name, 'bf16', false);
    const skipped = lossAndGrads(name, 'bf16', true);
    const differs = Object.keys(all.grads).some((k) =>
      all.grads[k].some((v, i) => v !== skipped.grads[k][i]),
    );
    assert.ok(differs || all.loss !== skipped.loss);
  });
}
