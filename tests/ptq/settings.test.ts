// PTQ requests are checked before any work: format, method, group size against the model, shared settings.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConfigIssue } from '../../src/nn/fields.ts';
import { checkPtqSettings, checkPtqVariant, gptqFormats, ptqFormats } from '../../src/ptq/settings.ts';

const fields = { format: 'format', method: 'method', groupSize: 'groupSize' };
const widths = [
  { name: 'd_model', value: 96 },
  { name: 'd_ff', value: 256 },
];

function variantIssues(format: unknown, method: unknown, groupSize = 0): string[] {
  const issues: ConfigIssue[] = [];
  checkPtqVariant({ format, method, groupSize }, fields, issues, widths);
  return issues.map((i) => `${i.field}: ${i.message}`);
}

test('formats and methods: every PTQ format with rtn, integers of 2..8 bits with gptq', () => {
  assert.ok(!ptqFormats.includes('fp32') && ptqFormats.includes('mxfp4') && ptqFormats.includes('nf4'));
  assert.deepEqual(gptqFormats, ['int2', 'int3', 'int4', 'int5', 'int6', 'int7', 'int8']);
  for (const format of ['int4', 'fp8_e4m3', 'bf16', 'ternary', 'mxfp4'])
    assert.deepEqual(variantIssues(format, 'rtn'), [], format);
  assert.deepEqual(variantIssues('int3', 'gptq'), []);
  assert.match(
    variantIssues('nf4', 'gptq')[0],
    /^method: gptq quantizes to integer formats \(int2, .*\); nf4 needs rtn$/,
  );
  assert.match(variantIssues('fp32', 'rtn')[0], /^format: "fp32" is not a PTQ format \(allowed: int2,/);
  assert.match(variantIssues('int1', 'rtn')[0], /^format: "int1" is not a PTQ format/);
  assert.match(variantIssues('int4', 'awq')[0], /^method: "awq" is not a PTQ method \(allowed: rtn, gptq\)$/);
});

test('group sizes must divide the widths of the linear weights', () => {
  assert.deepEqual(variantIssues('int4', 'gptq', 32), []);
  assert.deepEqual(variantIssues('int4', 'rtn', 64), [
    'groupSize: 64 does not divide d_model = 96 (needed by int4)',
  ]);
  // NF4's own blocks of 64 do not fit d_model 96, whatever the group size setting says.
  assert.deepEqual(variantIssues('nf4', 'rtn', 32), [
    'format: nf4 shares scales in blocks of 64, which does not divide d_model = 96',
  ]);
  assert.deepEqual(variantIssues('bf16', 'rtn', 7), [], 'a cast has no groups');
});

test('shared settings: defaults, snake_case, every bad field at once', () => {
  const issues: ConfigIssue[] = [];
  assert.deepEqual(checkPtqSettings({ group_size: 32 }, 'ptq.settings.', issues), {
    groupSize: 32,
    calibrationTokens: 8192,
  });
  assert.deepEqual(checkPtqSettings(undefined, 'ptq.settings.', issues), {
    groupSize: 0,
    calibrationTokens: 8192,
  });
  assert.equal(issues.length, 0);
  assert.equal(
    checkPtqSettings({ groupSize: -1, calibrationTokens: 'many', actorder: true }, 'ptq.settings.', issues),
    null,
  );
  assert.deepEqual(issues.map((i) => i.field).sort(), [
    'ptq.settings.actorder',
    'ptq.settings.calibrationTokens',
    'ptq.settings.groupSize',
  ]);
});
