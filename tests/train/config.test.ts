import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parameterCount } from '../../src/nn/config.ts';
import { resolveRunConfig } from '../../src/train/config.ts';
import { parseOverrides } from '../../src/train/run.ts';

const base = { model: { dModel: 64, nLayers: 2, nHeads: 4, context: 32 } };

/** The problems a config is refused for, as "field: message" lines. */
function problems(raw: unknown, file?: string): string[] {
  try {
    resolveRunConfig(raw, file);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
    if (file) assert.ok(e.message.startsWith(`${file}: `), e.message);
    return e.issues.map((i) => `${i.field}: ${i.message}`);
  }
  return assert.fail('the config was accepted');
}

test('invalid configs fail before any work, naming the field', () => {
  const bad: [unknown, RegExp][] = [
    [{ ...base, model: { ...base.model, nHeads: 3 } }, /^model\.nHeads: 3 does not divide dModel 64$/],
    [{ ...base, model: { ...base.model, colour: 1 } }, /^model\.colour: unknown key/],
    [
      { ...base, model: { ...base.model, precision: { weights: 'int9' } } },
      /^model\.precision\.weights: "int9" is not one of fp32, int2, .*mxfp4/,
    ],
    [{ ...base, train: { lr: -1 } }, /^train\.lr: must be a number/],
    [{ ...base, train: { lr: 1000 } }, /^train\.lr: must be a number in \[0, 100\]/],
    [{ ...base, train: { batchSize: 2.5 } }, /^train\.batchSize: must be an integer/],
    [{ ...base, data: { vocabSize: 10 } }, /^data\.vocabSize/],
    [
      { ...base, model: { ...base.model, bitnet: 'b2' } },
      /^model\.bitnet: "b2" is not one of none, bitnet-b1\.58/,
    ],
    [{ ...base, model: { ...base.model, bitnet: 'constructor' } }, /^model\.bitnet: "constructor"/],
    [
      { ...base, model: { ...base.model, precision: { kv: 'toString' } } },
      /^model\.precision\.kv: "toString"/,
    ],
    [{ ...base, extra: {} }, /^extra: unknown key/],
    [{ ...base, model: { ...base.model, d_model: 64 } }, /^model\.d_model: given twice \(also as dModel\)/],
    [{ ...base, model: [] }, /^model: \[\] is not a mapping/],
    [
      { ...base, model: { ...base.model, vocabSize: 300 } },
      /^model\.vocabSize: 300 differs from data\.vocabSize/,
    ],
  ];
  for (const [raw, message] of bad) {
    const found = problems(raw);
    assert.ok(
      found.some((p) => message.test(p)),
      `${message} in ${JSON.stringify(found)}`,
    );
  }
});

test('every problem at once, by the name the user wrote, with the file', () => {
  const found = problems(
    {
      model: { d_model: 64, n_layers: 0, n_heads: 3, context: 32, bitnet: 'constructor', precison: {} },
      data: { vocab_size: 'big' },
      train: { batch_size: -1, lr: 'fast', warmupSteps: 1.5 },
    },
    'runs/tiny.yaml',
  );
  assert.deepEqual(found.sort(), [
    'data.vocab_size: must be an integer in [257, 65536], got "big"',
    'model.bitnet: "constructor" is not one of none, bitnet-b1.58, bitnet-b1',
    'model.n_heads: 3 does not divide d_model 64',
    'model.n_layers: must be an integer in [1, 2147483648], got 0',
    'model.precison: unknown key (allowed: vocab_size, d_model, n_layers, n_heads, d_ff, context, tied_embeddings, rope_base, dropout, precision, bitnet, onebit, arch)',
    'train.batch_size: must be an integer in [1, 1000000], got -1',
    'train.lr: must be a number in [0, 100], got "fast"',
    'train.warmupSteps: must be an integer in [0, 1000000000], got 1.5',
  ]);
  assert.deepEqual(problems({ model: { d_model: 64, n_heads: 4 } }).sort(), [
    'model.context: is required (an integer in [1, 2147483648])',
    'model.n_layers: is required (an integer in [1, 2147483648])',
  ]);
});

test('snake_case and camelCase configs resolve to the same run', () => {
  const snake = resolveRunConfig({
    model: { d_model: 64, n_layers: 2, n_heads: 4, context: 32, tied_embeddings: false },
    train: { batch_size: 8, min_lr_ratio: 0.2 },
    data: { vocab_size: 512 },
  });
  const camel = resolveRunConfig({
    model: { dModel: 64, nLayers: 2, nHeads: 4, context: 32, tiedEmbeddings: false },
    train: { batchSize: 8, minLrRatio: 0.2 },
    data: { vocabSize: 512 },
  });
  assert.deepEqual(snake, camel);
  assert.equal(snake.model.vocabSize, 512);
});

test('formats whose scale groups do not divide the model widths are refused', () => {
  // MX shares one scale per 32 elements: d_model 48 has no whole blocks; NF4 needs 64.
  const m = { d_model: 48, n_layers: 1, n_heads: 4, context: 8, d_ff: 128 };
  const found = problems({
    model: { ...m, precision: { weights: 'mxfp4', activations: 'nf4', kv: 'mxint8' } },
  });
  assert.deepEqual(found.sort(), [
    'model.precision.activations: nf4 shares scales in groups of 64, which does not divide d_model = 48',
    'model.precision.kv: mxint8 shares scales in groups of 32, which does not divide head size = 12',
    'model.precision.weights: mxfp4 shares scales in groups of 32, which does not divide d_model = 48',
  ]);
  const ok = resolveRunConfig({
    model: { ...m, d_model: 256, n_heads: 4, precision: { weights: 'mxfp4', kv: 'mxfp8_e4m3' } },
  });
  assert.equal(ok.model.precision.weights, 'mxfp4');
  assert.match(
    problems({ model: { ...m, d_model: 64, precision: { weightGranularity: 'group0' } } })[0],
    /weightGranularity: "group0" is not tensor, row or groupN/,
  );
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
  assert.equal(c.model.precision.activationGranularity, 'row');
  const overridden = resolveRunConfig({
    model: { ...base.model, bitnet: 'bitnet-b1', precision: { kv: 'int8' } },
  });
  assert.equal(overridden.model.precision.weights, 'binary');
  assert.equal(overridden.model.precision.kv, 'int8');
});

test('--set overrides cannot reach a prototype or write into a value', () => {
  const raw = { model: { dModel: 64 } };
  assert.deepEqual(parseOverrides(raw, ['train.batch_size=4', 'model.precision.kv=int8']), {
    model: { dModel: 64, precision: { kv: 'int8' } },
    train: { batch_size: 4 },
  });
  for (const bad of [
    '__proto__.polluted=1',
    'model.constructor.x=1',
    'model.dModel.x=1',
    'train..lr=1',
    'lr',
  ])
    assert.throws(
      () => parseOverrides(raw, [bad]),
      (e: unknown) => e instanceof ConfigError && e.field === '--set',
      bad,
    );
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});
