import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SpecError } from '../../src/sweep/errors.ts';
import { parsePrecision } from '../../src/sweep/precision.ts';
import { defaultValidator, parseSweepSpec } from '../../src/sweep/spec.ts';

const valid = `
name: quick
seeds: [0, 1]
train: { backend: cpu, lr: 0.003 }
grid:
  model:
    - { d_model: 64, n_layers: 2, n_heads: 4 }
    - { d_model: 128, n_layers: 4, n_heads: 8 }
  tokens: [100000, 200000]
  precision: [fp32, { w: [int4, int8], a: fp32 }]
ptq: { precisions: [int8, int4], methods: [rtn, gptq] }
`;

function issuesOf(text: string, format?: 'json'): string[] {
  try {
    parseSweepSpec(text, { format });
  } catch (err) {
    assert.ok(err instanceof SpecError, `expected SpecError, got ${err}`);
    return err.issues.map((i) => `${i.path}: ${i.message}`);
  }
  assert.fail('the spec was accepted');
}

test('a valid YAML spec parses, with precision grids expanded and parts defaulting to fp32', () => {
  const spec = parseSweepSpec(valid);
  assert.equal(spec.name, 'quick');
  assert.deepEqual(spec.seeds, [0, 1]);
  assert.equal(spec.grid.model.length, 2);
  assert.deepEqual(spec.grid.precision, [
    { w: 'fp32', a: 'fp32', kv: 'fp32' },
    { w: 'int4', a: 'fp32', kv: 'fp32' },
    { w: 'int8', a: 'fp32', kv: 'fp32' },
  ]);
  assert.deepEqual(spec.ptq.methods, ['rtn', 'gptq']);
  assert.deepEqual(spec.train, { backend: 'cpu', lr: 0.003 });
});

test('the same spec as JSON parses to the same value', () => {
  const asJson = JSON.stringify({
    name: 'quick',
    seeds: [0, 1],
    train: { backend: 'cpu', lr: 0.003 },
    grid: {
      model: [
        { d_model: 64, n_layers: 2, n_heads: 4 },
        { d_model: 128, n_layers: 4, n_heads: 8 },
      ],
      tokens: [100000, 200000],
      precision: ['fp32', { w: ['int4', 'int8'], a: 'fp32' }],
    },
    ptq: { precisions: ['int8', 'int4'], methods: ['rtn', 'gptq'] },
  });
  assert.deepEqual(parseSweepSpec(asJson, { format: 'json' }), parseSweepSpec(valid));
});

test('errors name the field path, the value and what is allowed', () => {
  const bad = valid.replace(
    '{ d_model: 128, n_layers: 4, n_heads: 8 }',
    '{ d_model: 128, n_layers: 4, n_heads: 3 }',
  );
  assert.deepEqual(issuesOf(bad), ['sweep.grid.model[1].n_heads: 3 does not divide d_model 128']);
  const badPrecision = issuesOf(valid.replace('w: [int4, int8]', 'w: [int4, int9]'));
  assert.equal(badPrecision.length, 1);
  assert.match(
    badPrecision[0],
    /^sweep\.grid\.precision\[1\]\.w\[1\]: "int9" is not a precision \(allowed: .*int1\.\.int8/,
  );
  assert.deepEqual(issuesOf(valid.replace('methods: [rtn, gptq]', 'methods: [rtn, awq]')), [
    'sweep.ptq.methods[1]: "awq" is not a PTQ method (allowed: rtn, gptq)',
  ]);
});

test('every problem is reported at once, including unknown fields and missing ones', () => {
  const issues = issuesOf(`
name: "bad name"
seeds: [-1]
grid:
  model: [{ d_model: 64, n_layers: 0 }]
  tokens: []
  precison: [fp32]
`);
  assert.deepEqual(issues.sort(), [
    'sweep.grid.model[0].n_heads: is required (a positive integer)',
    'sweep.grid.model[0].n_layers: 0 is not a positive integer',
    'sweep.grid.precison: is not a known field (allowed: model, tokens, precision)',
    'sweep.grid.tokens: is an empty list',
    "sweep.name: \"bad name\" is not a name (letters, digits, '.', '_', '-')",
    'sweep.seeds[0]: -1 is not a non-negative integer',
  ]);
});

test('YAML syntax errors and non-mapping documents are SpecErrors', () => {
  assert.match(issuesOf('grid: [unclosed')[0], /^sweep: cannot parse/);
  assert.deepEqual(issuesOf('[1, 2]'), ['sweep: [1,2] is not a mapping']);
});

test('a validator hook from the trainer checks the model and train sub-configs', () => {
  const spec = valid.replace('lr: 0.003', 'lr: -1');
  assert.doesNotThrow(() => parseSweepSpec(spec));
  const strict = {
    ...defaultValidator,
    train: (t: Record<string, unknown>, path: string) =>
      typeof t.lr === 'number' && t.lr > 0
        ? []
        : [{ path: `${path}.lr`, message: `${t.lr} is not a positive learning rate` }],
  };
  assert.throws(
    () => parseSweepSpec(spec, { validator: strict }),
    /sweep\.train\.lr: -1 is not a positive learning rate/,
  );
});

test('precision strings map to bit counts', () => {
  assert.equal(parsePrecision('fp32')?.bits, 32);
  assert.equal(parsePrecision('INT4')?.bits, 4);
  assert.deepEqual(parsePrecision('fp8_e4m3')?.format, { kind: 'fp', exponent: 4, mantissa: 3 });
  assert.equal(parsePrecision('fp8_e4m2'), null); // 1 + 4 + 2 != 8
  assert.equal(parsePrecision('int0'), null);
});
