import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NumericsError } from '../../src/numerics/errors.ts';
import { parsePrecision, precisionNames } from '../../src/numerics/precision.ts';
import { studyValidator } from '../../src/study/validator.ts';
import { SpecError } from '../../src/sweep/errors.ts';
import { type ConfigValidator, defaultValidator, parseSweepSpec } from '../../src/sweep/spec.ts';

/** The sweep's own model checks with the study's PTQ settings (the models here have no context length). */
const withPtqSettings: ConfigValidator = { ...defaultValidator, ptq: studyValidator.ptq };

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

function issuesOf(text: string, format?: 'json', validator?: ConfigValidator): string[] {
  try {
    parseSweepSpec(text, { format, validator });
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
    /^sweep\.grid\.precision\[1\]\.w\[1\]: "int9" is not a precision \(allowed: fp32, int2, .*, mxfp4, mxint8\)$/,
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
    'sweep.grid.precison: is not a known field (allowed: model, tokens, precision, recipe)',
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

test('precision names map to bit counts, from the one list numerics keeps', () => {
  assert.equal(parsePrecision('fp32').bits, 32);
  assert.equal(parsePrecision('int4').bits, 4);
  assert.equal(parsePrecision('mxfp4').bits, 4);
  assert.equal(parsePrecision('mxfp6_e3m2').bits, 6);
  assert.equal(parsePrecision('ternary').bits, Math.log2(3));
  assert.deepEqual(parsePrecision('fp8_e4m3').format, { kind: 'fp', exponent: 4, mantissa: 3 });
  for (const bad of ['fp8_e4m2', 'int0', 'int1', 'INT4', ' int4', 'constructor', 4, null])
    assert.throws(
      () => parsePrecision(bad, 'grid.precision'),
      (e: unknown) => e instanceof NumericsError && e.argument === 'grid.precision',
      String(bad),
    );
  assert.ok(precisionNames.includes('mxint8') && !precisionNames.includes('int1'));
});

test('specs accept the MX formats the README advertises, for training and PTQ', () => {
  const mx = valid
    .replace(
      '{ d_model: 64, n_layers: 2, n_heads: 4 }',
      '{ d_model: 64, n_layers: 2, n_heads: 2, d_ff: 192 }',
    )
    .replace(
      '{ d_model: 128, n_layers: 4, n_heads: 8 }',
      '{ d_model: 128, n_layers: 4, n_heads: 4, d_ff: 352 }',
    )
    .replace(
      'precision: [fp32, { w: [int4, int8], a: fp32 }]',
      'precision: [mxfp8_e4m3, { w: [mxfp4, mxint8], a: mxfp6_e2m3 }]',
    )
    .replace('precisions: [int8, int4], methods: [rtn, gptq]', 'precisions: [mxfp4, int4], methods: [rtn]');
  const spec = parseSweepSpec(mx);
  // The default d_ff (8/3 d_model to a multiple of 8: 176 for d_model 64) has no whole MX blocks: said at load.
  assert.match(
    issuesOf(mx.replace(', d_ff: 192', '')).join('\n'),
    /w: mxfp4 shares scales in groups of 32, which does not divide d_ff = 176 in sweep\.grid\.model\[0\]/,
  );
  assert.deepEqual(spec.grid.precision[1], { w: 'mxfp4', a: 'mxfp6_e2m3', kv: 'fp32' });
  assert.deepEqual(spec.ptq.precisions, ['mxfp4', 'int4']);
});

test('PTQ combinations that would fail inside a job fail at spec load, naming the field', () => {
  assert.deepEqual(issuesOf(valid.replace('precisions: [int8, int4]', 'precisions: [int8, nf4, fp32]')), [
    'sweep.ptq.precisions[2]: "fp32" is not a PTQ format (allowed: int2, int3, int4, int5, int6, int7, int8, fp8_e4m3, fp8_e5m2, fp6_e3m2, fp6_e2m3, fp4_e2m1, nf4, ternary, binary, bf16, fp16, mxfp8_e4m3, mxfp8_e5m2, mxfp6_e3m2, mxfp6_e2m3, mxfp4, mxint8)',
    'sweep.ptq.precisions[1]: nf4 shares scales in blocks of 64, which does not divide d_ff of sweep.grid.model[0] = 176',
    'sweep.ptq.precisions[1]: nf4 shares scales in blocks of 64, which does not divide d_ff of sweep.grid.model[1] = 344',
    'sweep.ptq.methods[1]: gptq quantizes to integer formats (int2, int3, int4, int5, int6, int7, int8); nf4 needs rtn',
  ]);
  // Groups of 48 divide d_model 96... not the default d_ff of 256; groups of NF4 (64) do not divide d_model 96.
  const shapes = valid
    .replace('{ d_model: 64, n_layers: 2, n_heads: 4 }', '{ d_model: 96, n_layers: 2, n_heads: 4 }')
    .replace(
      'ptq: { precisions: [int8, int4], methods: [rtn, gptq] }',
      'ptq: { precisions: [int4, nf4], methods: rtn, settings: { groupSize: 32, calibrationTokens: 0, colour: 1 } }',
    );
  // Bad settings are reported first; the combinations are checked once the settings are valid.
  assert.deepEqual(issuesOf(shapes, undefined, withPtqSettings).sort(), [
    'sweep.ptq.settings.calibrationTokens: must be an integer in [1, 1099511627776], got 0',
    'sweep.ptq.settings.colour: unknown key (allowed: groupSize, calibrationTokens, evalTokens, outlierThreshold)',
  ]);
  assert.deepEqual(
    issuesOf(
      shapes.replace(', calibrationTokens: 0, colour: 1', '').replace('groupSize: 32', 'groupSize: 48'),
      undefined,
      withPtqSettings,
    ).sort(),
    [
      'sweep.ptq.precisions[1]: nf4 shares scales in blocks of 64, which does not divide d_model of sweep.grid.model[0] = 96',
      'sweep.ptq.precisions[1]: nf4 shares scales in blocks of 64, which does not divide d_ff of sweep.grid.model[1] = 344',
      'sweep.ptq.settings.groupSize: 48 does not divide d_ff of sweep.grid.model[0] = 256 (needed by int4)',
      'sweep.ptq.settings.groupSize: 48 does not divide d_model of sweep.grid.model[1] = 128 (needed by int4)',
      'sweep.ptq.settings.groupSize: 48 does not divide d_ff of sweep.grid.model[1] = 344 (needed by int4)',
    ].sort(),
  );
});

test('training precisions whose blocks do not fit a model are refused at spec load', () => {
  const bad = valid
    .replace('n_heads: 4 }', 'n_heads: 4, d_ff: 256 }')
    .replace('n_heads: 8 }', 'n_heads: 8, d_ff: 512 }')
    .replace('precision: [fp32, { w: [int4, int8], a: fp32 }]', 'precision: [{ w: mxfp4, kv: nf4 }]');
  assert.deepEqual(issuesOf(bad).sort(), [
    'sweep.grid.precision: kv: nf4 shares scales in groups of 64, which does not divide head size = 16 in sweep.grid.model[0]',
    'sweep.grid.precision: kv: nf4 shares scales in groups of 64, which does not divide head size = 16 in sweep.grid.model[1]',
  ]);
});
test("a model's own weight groups are checked against its d_ff at load", () => {
  const grouped = valid.replace(
    '{ d_model: 64, n_layers: 2, n_heads: 4 }',
    '{ d_model: 64, n_layers: 2, n_heads: 4, precision: { weight_granularity: group32 } }',
  );
  assert.deepEqual(issuesOf(grouped), [
    'sweep.grid.precision: w: int4 shares scales in groups of 32, which does not divide d_ff = 176 in sweep.grid.model[0]',
    'sweep.grid.precision: w: int8 shares scales in groups of 32, which does not divide d_ff = 176 in sweep.grid.model[0]',
  ]);
});

test('unknown YAML tags and alias bombs are SpecErrors, not warnings or hangs', () => {
  assert.match(
    issuesOf(valid.replace('name: quick', 'name: !nmae quick'))[0],
    /^sweep: cannot parse: .*!nmae/,
  );
  const laughs = ['a: &a [x, x, x, x, x, x, x, x, x]'];
  for (let k = 1; k < 9; k++)
    laughs.push(
      `${'abcdefghij'[k]}: &${'abcdefghij'[k]} [${Array(9)
        .fill(`*${'abcdefghij'[k - 1]}`)
        .join(', ')}]`,
    );
  assert.match(issuesOf(laughs.join('\n'))[0], /^sweep: cannot parse: .*alias/i);
});
