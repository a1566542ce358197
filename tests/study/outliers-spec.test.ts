// The outlier study's spec surface: a dtype recipe axis checked against the backend at spec load, and activation
// PTQ (W8A8, with or without the LLM.int8 decomposition) as PTQ jobs, weight-only jobs keeping their ids.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runConfigFromJob } from '../../src/study/run-config.ts';
import { studyValidator } from '../../src/study/validator.ts';
import { SpecError } from '../../src/sweep/errors.ts';
import { expandSweep, type TrainConfig } from '../../src/sweep/expand.ts';
import { validateSweepSpec } from '../../src/sweep/spec.ts';

const spec = (extra: { train?: object; recipe?: unknown; ptq?: object }) => ({
  name: 'outliers',
  train: { vocabSize: 512, ...extra.train },
  grid: {
    model: [{ d_model: 32, n_layers: 1, n_heads: 2, context: 16 }],
    tokens: [10_000],
    ...(extra.recipe === undefined ? {} : { recipe: extra.recipe }),
  },
  ...(extra.ptq ? { ptq: extra.ptq } : {}),
});

const issues = (raw: object) => {
  try {
    validateSweepSpec(raw, studyValidator);
  } catch (e) {
    assert.ok(e instanceof SpecError);
    return e.issues.map((i) => `${i.path}: ${i.message}`).join('\n');
  }
  assert.fail('accepted');
};

test('dtype is a recipe axis: it reaches the trainer, and a bad value or a backend without it is refused', () => {
  const jobs = expandSweep(
    validateSweepSpec(spec({ recipe: [{ dtype: 'bf16' }, { dtype: 'fp16' }] }), studyValidator),
  );
  const configs = jobs.map((j) => runConfigFromJob(j.config as TrainConfig));
  assert.deepEqual(
    configs.map((c) => c.train.dtype),
    ['bf16', 'fp16'],
  );
  assert.match(
    issues(spec({ recipe: [{ dtype: 'fp8' }] })),
    /sweep\.grid\.recipe\[0\]\.dtype: "fp8" is not one of fp32, bf16, fp16/,
  );
  assert.match(
    issues(spec({ recipe: [{ dtype: 16 }] })),
    /sweep\.grid\.recipe\[0\]\.dtype: must be a non-empty string/,
  );
  // Every built-in backend computes in all three dtypes; one that does not (here a name without an entry in
  // compute-dtype.ts, so fp32 only) is refused at spec load, naming the field and the allowed dtypes.
  assert.match(
    issues(spec({ train: { backend: 'webgpu' }, recipe: [{ dtype: 'fp32' }, { dtype: 'fp16' }] })),
    /sweep\.grid\.recipe\[1\]\.dtype: fp16 compute is not available on the webgpu backend \(allowed there: fp32\)/,
  );
  assert.match(
    issues(spec({ train: { backend: 'webgpu', dtype: 'bf16' } })),
    /sweep\.train\.dtype: bf16 compute is not available on the webgpu backend/,
  );
  assert.match(
    issues(spec({ recipe: [{ lossScal: 2 }] })),
    /sweep\.grid\.recipe\[0\]\.lossScal: unknown key \(allowed: .*dtype/,
  );
  // bf16 and fp16 on cuda, fp16 on cpu: fine.
  validateSweepSpec(
    spec({ train: { backend: 'cuda' }, recipe: [{ dtype: 'bf16' }, { dtype: 'fp16' }] }),
    studyValidator,
  );
  validateSweepSpec(spec({ train: { backend: 'cpu' }, recipe: [{ dtype: 'fp16' }] }), studyValidator);
});

test('activation PTQ: W8A8 with and without decomposition, and weight-only jobs, ids of weight-only kept', () => {
  const ptq = {
    precisions: ['int8', 'int4'],
    methods: ['rtn'],
    activations: ['fp32', 'int8'],
    decompose: [false, true],
  };
  const jobs = expandSweep(validateSweepSpec(spec({ ptq }), studyValidator)).filter((j) => j.kind === 'ptq');
  const label = (c: Record<string, unknown>) =>
    `${c.precision}/${c.activations ?? 'fp32'}${c.decompose ? '+dec' : ''}`;
  assert.deepEqual(
    jobs.map((j) => label(j.config)),
    ['int8/fp32', 'int8/int8', 'int8/int8+dec', 'int4/fp32', 'int4/int8', 'int4/int8+dec'],
  );
  const weightOnly = expandSweep(
    validateSweepSpec(spec({ ptq: { precisions: ['int8', 'int4'], methods: ['rtn'] } }), studyValidator),
  ).filter((j) => j.kind === 'ptq');
  assert.deepEqual(
    weightOnly.map((j) => j.id),
    [jobs[0].id, jobs[3].id],
    'a weight-only job has the id it had before activation PTQ existed',
  );
  assert.match(
    issues(spec({ ptq: { precisions: ['int8'], activations: ['int9'] } })),
    /sweep\.ptq\.activations\[0\]: "int9" is not a precision/,
  );
  assert.match(
    issues(spec({ ptq: { precisions: ['int8'], decompose: [true] } })),
    /sweep\.ptq\.decompose: the LLM.int8 decomposition needs quantized activations/,
  );
  assert.match(
    issues(spec({ ptq: { precisions: ['int8'], activations: ['int8'], decompose: ['yes'] } })),
    /sweep\.ptq\.decompose\[0\]: "yes" is not true or false/,
  );
  assert.match(
    issues(spec({ ptq: { precisions: ['int8'], settings: { outlierThreshold: -1 } } })),
    /sweep\.ptq\.settings\.outlierThreshold/,
  );
});
