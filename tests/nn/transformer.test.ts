import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parameterCount, resolveModelConfig } from '../../src/nn/config.ts';
import { resolvePrecision } from '../../src/nn/precision.ts';
import { forward, initParams } from '../../src/nn/transformer.ts';
import { precisionBits as bitsOf } from '../../src/numerics/precision.ts';
import * as T from '../../src/tensor/index.ts';

const config = resolveModelConfig({
  vocabSize: 50,
  dModel: 16,
  nLayers: 2,
  nHeads: 2,
  context: 8,
  tiedEmbeddings: false,
});

test('parameters match the reported counts', () => {
  T.setDefaultBackend('js');
  const params = initParams(config, 1);
  let embeddings = 0;
  let total = 0;
  for (const [name, p] of params) {
    total += p.size;
    if (name === 'tok_emb.weight' || name === 'lm_head.weight') embeddings += p.size;
  }
  assert.equal(parameterCount(config).total, total);
  assert.equal(parameterCount(config).nonEmbedding, total - embeddings);
});

test('the model is causal: logits at t do not depend on tokens after t', () => {
  T.setDefaultBackend('js');
  const params = initParams(config, 2);
  const a = [1, 2, 3, 4, 5, 6, 7, 8];
  const b = [1, 2, 3, 4, 9, 9, 9, 9];
  const logits = (tokens: number[]) =>
    T.noGrad(() =>
      forward(config, params, T.tensor(tokens, [1, 8], { dtype: 'i32' }), { train: false }).toArray(),
    );
  const la = logits(a);
  const lb = logits(b);
  const V = config.vocabSize;
  for (let i = 0; i < 4 * V; i++)
    assert.ok(Math.abs(la[i] - lb[i]) < 1e-5, `position ${Math.floor(i / V)} changed`);
  let changed = 0;
  for (let i = 4 * V; i < 8 * V; i++) changed = Math.max(changed, Math.abs(la[i] - lb[i]));
  assert.ok(changed > 1e-4, 'later positions must see the changed tokens');
});

test('weight precision changes the forward pass; fp32 leaves it untouched', () => {
  T.setDefaultBackend('js');
  const params = initParams(config, 3);
  const tokens = T.tensor([3, 1, 4, 1, 5, 9, 2, 6], [1, 8], { dtype: 'i32' });
  const run = (weights: string) =>
    T.noGrad(() =>
      forward({ ...config, precision: { ...config.precision, weights } }, params, tokens, {
        train: false,
      }).toArray(),
    );
  const full = run('fp32');
  const int8 = run('int8');
  const int2 = run('int2');
  const dist = (x: ArrayLike<number>, y: ArrayLike<number>) => {
    let s = 0;
    for (let i = 0; i < x.length; i++) s += (x[i] - y[i]) ** 2;
    return Math.sqrt(s);
  };
  assert.ok(dist(full, int8) > 0, 'int8 must perturb the logits');
  assert.ok(dist(full, int2) > 5 * dist(full, int8), 'int2 must perturb them far more than int8');
  assert.equal(resolvePrecision(config.precision).weights, null);
  assert.equal(bitsOf('fp8_e4m3'), 8);
  assert.equal(bitsOf('int3'), 3);
});
