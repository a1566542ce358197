import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../src/backends/index.ts';
import { ConfigError, resolveModelConfig } from '../../src/nn/config.ts';
import { forward, initParams, parameterShapes, valueVectorNames } from '../../src/nn/transformer.ts';
import * as T from '../../src/tensor/index.ts';

const shape = { vocabSize: 40, dModel: 16, nLayers: 2, nHeads: 2, context: 8 };
const backends = ['js', ...('backend' in T.tryBackend('cpu') ? ['cpu'] : [])];

test('onebit: true gives every linear layer value vectors g (cols) and h (rows); embeddings and norms stay', () => {
  const dense = resolveModelConfig(shape);
  const onebit = resolveModelConfig({ ...shape, onebit: true });
  assert.equal('onebit' in dense, false, 'a dense config (and its hash) is unchanged');
  const shapes = new Map(parameterShapes(onebit));
  for (const [name, [rows, cols]] of parameterShapes(dense)) {
    assert.deepEqual(shapes.get(name), cols === undefined ? [rows] : [rows, cols]);
    if (!/\.(attn|mlp)\.w/.test(name)) continue;
    const { g, h } = valueVectorNames(name);
    assert.deepEqual(shapes.get(g), [cols]);
    assert.deepEqual(shapes.get(h), [rows]);
  }
  assert.equal(shapes.size, parameterShapes(dense).length + 2 * 7 * shape.nLayers);
});

test('onebit refuses a weight format of its own, naming the field', () => {
  assert.throws(
    () => resolveModelConfig({ ...shape, onebit: true, precision: { weights: 'int4' } }),
    (e: unknown) => e instanceof ConfigError && /model\.onebit/.test(e.message) && /int4/.test(e.message),
  );
  assert.throws(() => resolveModelConfig({ ...shape, onebit: 'yes' }), /model\.onebit/);
});

for (const backend of backends) {
  test(`a OneBit Transformer depends on sign(W) only, and trains W, g and h (${backend})`, () => {
    const c = resolveModelConfig({ ...shape, onebit: true });
    T.tidy(() => {
      const be = T.getBackend(backend);
      const params = initParams(c, 3);
      const moved = new Map(
        [...params].map(([n, p]) => [n, T.requireGrad(T.tensor(p.toArray(), p.shape, { backend: be }))]),
      );
      const tokens = T.tensor(
        Array.from({ length: 2 * 8 }, (_, i) => (i * 7) % 40),
        [2, 8],
        { dtype: 'i32', backend: be },
      );
      const targets = T.tensor(
        Array.from({ length: 2 * 8 }, (_, i) => (i * 5 + 1) % 40),
        [2, 8],
        { dtype: 'i32', backend: be },
      );
      const logits = forward(c, moved, tokens, { train: true });
      assert.deepEqual(logits.shape, [2, 8, 40]);
      T.backward(T.crossEntropy(logits, targets));
      for (const name of ['blocks.0.attn.wq.weight', 'blocks.0.attn.wq.g', 'blocks.1.mlp.w_down.h']) {
        const grad = Array.from(moved.get(name)!.grad!.toArray());
        assert.ok(
          grad.some((v) => v !== 0),
          `${name} gets a gradient`,
        );
      }
      // Scaling every latent weight by a positive factor keeps its signs: the logits must not move.
      const before = Array.from(T.noGrad(() => forward(c, moved, tokens, { train: false })).toArray());
      const scaled = new Map(
        [...moved].map(([n, p]) => [
          n,
          /\.weight$/.test(n) && /\.(attn|mlp)\.w/.test(n) ? T.affine(p, 3.7) : p,
        ]),
      );
      const after = Array.from(T.noGrad(() => forward(c, scaled, tokens, { train: false })).toArray());
      for (const [i, v] of after.entries())
        assert.ok(Math.abs(v - before[i]) < 1e-4, `logit ${i}: ${v} vs ${before[i]}`);
      for (const p of params.values()) p.dispose();
    });
  });
}
