import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parameterCount } from '../../src/nn/config.ts';
import { resolveRunConfig } from '../../src/train/config.ts';

const base = { model: { dModel: 64, nLayers: 2, nHeads: 4, context: 32 } };

test('invalid configs fail before any work, naming the field', () => {
  const bad: [unknown, RegExp][] = [
    [{ ...base, model: { ...base.model, nHeads: 3 } }, /model\.nHeads: 3 does not divide dModel 64/],
    [{ ...base, model: { ...base.model, colour: 1 } }, /model\.colour: unknown key/],
    [
      { ...base, model: { ...base.model, precision: { weights: 'int9' } } },
      /model\.precision\.weights: 'int9' is not a format/,
    ],
    [{ ...base, train: { lr: -1 } }, /train\.lr: must be a number/],
    [{ ...base, train: { lr: 1000 } }, /train\.lr: must be a number in \[0, 100\]/],
    [{ ...base, train: { batchSize: 2.5 } }, /train\.batchSize: must be an integer/],
    [{ ...base, data: { vocabSize: 10 } }, /data\.vocabSize/],
    [{ ...base, model: { ...base.model, bitnet: 'b2' } }, /model\.bitnet/],
    [{ ...base, extra: {} }, /extra: unknown key/],
  ];
  for (const [raw, message] of bad) assert.throws(() => resolveRunConfig(raw as never), message);
});

test('parameter count: non-embedding N and the total', () => {
  const c = resolveRunConfig({
    model: { dModel: 64, nLayers: 2, nHeads: 4, context: 32, dFf: 128 },
    data: { vocabSize: 1000 },
  });
  const perLayer = 4 * 64 * 64 + 3 * 64 * 128 + 2 * 64;
  assert.equal(parameterCount(c.model).nonEmbedding, 2 * perLayer + 64);
  assert.equal(parameterCount(c.model).total, 2 * perLayer + 64 + 1000 * 64);
});

test('BitNet presets set ternary/binary weights with int8 per-token inputs', () => {
  const c = resolveRunConfig({ model: { ...base.model, bitnet: 'bitnet-b1.58' } });
  assert.equal(c.model.precision.weights, 'ternary');
  assert.equal(c.model.precision.activations, 'int8');
});
