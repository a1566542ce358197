// Random mutations of valid inputs: sweep specs (YAML text, JSON text, parsed values, with the trainer's own
// checks plugged in), run configs, runs tables and law expressions. Each answer is a valid result or the
// input's typed error; never a TypeError, a RangeError or a hang. Fixed seeds: the same inputs every run.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { datasetFromRows } from '../../src/laws/dataset.ts';
import { ExpressionError, LawsInputError } from '../../src/laws/errors.ts';
import { parseExpression } from '../../src/laws/expr/parse.ts';
import { parseCsv, parseJsonl } from '../../src/laws/table.ts';
import { ConfigError } from '../../src/nn/config.ts';
import { studyValidator } from '../../src/study/validator.ts';
import { SpecError } from '../../src/sweep/errors.ts';
import { parseSweepSpec, validateSweepSpec } from '../../src/sweep/spec.ts';
import { resolveRunConfig } from '../../src/train/config.ts';
import { int, mutateText, mutateValue, pick, rng } from './mutate.ts';

/** Runs f; a thrown error must be an instance of `type` (anything else fails the test, with the input). */
function typedOrValid(
  type: new (...args: never[]) => Error,
  input: unknown,
  f: () => unknown,
): 'ok' | 'refused' {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (e instanceof type) return 'refused';
    assert.fail(
      `${(e as Error)?.stack ?? e}\ninput: ${typeof input === 'string' ? input : JSON.stringify(input)}`,
    );
  }
}

const specYaml = `
name: quick
seeds: [0, 1]
train: { backend: cpu, lr: 0.003, batch_size: 8, corpus: tinystories }
grid:
  model:
    - { d_model: 64, n_layers: 2, n_heads: 4, context: 32, d_ff: 192 }
    - { dModel: 128, nLayers: 2, nHeads: 4, context: 32, dFf: 256, precision: { weightGranularity: group32 } }
  tokens: [100000, 200000]
  precision: [fp32, { w: [int4, mxfp4], a: fp32, kv: [fp32, int8] }]
ptq: { precisions: [int8, int4, nf4], methods: [rtn, gptq], settings: { groupSize: 32, calibrationTokens: 4096 } }
`;
const specValue = parseSweepSpec(specYaml.replace(', nf4', '').replace('mxfp4', 'int8'));

test('sweep specs: 300 mutated YAML texts, 200 JSON texts, 600 mutated values: a spec or a SpecError', () => {
  const r = rng(1);
  const count = { ok: 0, refused: 0 };
  for (let k = 0; k < 300; k++) {
    const text = mutateText(r, specYaml);
    count[typedOrValid(SpecError, text, () => parseSweepSpec(text, { validator: studyValidator }))]++;
  }
  const json = JSON.stringify(specValue);
  for (let k = 0; k < 200; k++) {
    const text = mutateText(r, json);
    count[typedOrValid(SpecError, text, () => parseSweepSpec(text, { format: 'json' }))]++;
  }
  for (let k = 0; k < 600; k++) {
    let value: unknown = specValue;
    for (let m = 1 + int(r, 3); m > 0; m--) value = mutateValue(r, value);
    count[typedOrValid(SpecError, value, () => validateSweepSpec(value, studyValidator))]++;
  }
  assert.ok(count.ok > 20 && count.refused > 600, JSON.stringify(count));
});

test('run configs: 2000 mutated configs: a RunConfig or a ConfigError', () => {
  const r = rng(2);
  const config = {
    model: {
      d_model: 64,
      n_layers: 2,
      n_heads: 4,
      context: 32,
      bitnet: 'bitnet-b1.58',
      precision: { kv: 'int8' },
    },
    data: { corpus: 'tinystories', vocab_size: 512 },
    train: { tokens: 1e6, batch_size: 8, lr: 0.003, warmup_steps: 10 },
  };
  const count = { ok: 0, refused: 0 };
  for (let k = 0; k < 2000; k++) {
    let value: unknown = config;
    for (let m = 1 + int(r, 3); m > 0; m--) value = mutateValue(r, value);
    count[typedOrValid(ConfigError, value, () => resolveRunConfig(value, 'fuzz.yaml'))]++;
  }
  assert.ok(count.ok > 100 && count.refused > 1000, JSON.stringify(count));
});

test('runs tables: 3000 mutated CSV and JSONL texts: a dataset or a LawsInputError', () => {
  const r = rng(3);
  const lines = ['N,D,Pw,loss,"note, quoted"'];
  for (const N of [1e6, 4e6])
    for (const D of [1e8, 4e8]) lines.push(`${N},${D},inf,${(2 + 1e3 / N).toFixed(4)},"a ""b"""`);
  const csv = `${lines.join('\r\n')}\n`;
  const jsonl = `${JSON.stringify({ N: 1e6, D: 1e8, metrics: { loss: 3.1 } })}\n${JSON.stringify({ N: 2e6, D: 1e8, metrics: { loss: 3 } })}\n`;
  const count = { ok: 0, refused: 0 };
  for (let k = 0; k < 2000; k++) {
    const text = mutateText(r, csv);
    count[
      typedOrValid(LawsInputError, text, () => {
        const t = parseCsv(text);
        datasetFromRows(t.records, ['N', 'D', 'Pw'], { rowNumbers: t.lines });
      })
    ]++;
  }
  for (let k = 0; k < 1000; k++) {
    const text = mutateText(r, jsonl);
    count[
      typedOrValid(LawsInputError, text, () => {
        const t = parseJsonl(text);
        datasetFromRows(t.records, ['N', 'D'], { lossKey: 'metrics.loss', rowNumbers: t.lines });
      })
    ]++;
  }
  assert.ok(count.ok > 100 && count.refused > 1000, JSON.stringify(count));
});

test('law expressions: 4000 mutated expressions and deep nesting: an Expr or an ExpressionError', () => {
  const r = rng(4);
  const sources = [
    'E + A/N^alpha + B/D^beta',
    'E + A/(N*(1 - exp(-Pw/gamma_w)))**alpha + B/D^beta',
    '-x^2 + log(sqrt(C)) * 1.5e-3 / (2, 3)',
  ];
  const count = { ok: 0, refused: 0 };
  for (let k = 0; k < 4000; k++) {
    let text = pick(r, sources);
    for (let m = 1 + int(r, 3); m > 0; m--) text = mutateText(r, text);
    count[typedOrValid(ExpressionError, text, () => parseExpression(text))]++;
  }
  for (const deep of [
    '('.repeat(100_000),
    `${'-'.repeat(100_000)}x`,
    `${'x^'.repeat(100_000)}x`,
    `${'exp('.repeat(50_000)}x`,
  ]) {
    const started = performance.now();
    count[typedOrValid(ExpressionError, deep.slice(0, 40), () => parseExpression(deep))]++;
    assert.ok(performance.now() - started < 2000, 'no quadratic blow-up on long input');
  }
  assert.ok(count.ok > 100 && count.refused > 1000, JSON.stringify(count));
});

test('absurdly nested values are typed errors, not stack overflows', () => {
  const depth = 20_000;
  const deepJson = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
  const deep = JSON.parse(deepJson);
  assert.throws(
    () => resolveRunConfig({ model: { dModel: deep } }),
    (e: unknown) => e instanceof ConfigError && /model\.dModel: .*nested too deep/.test(e.message),
  );
  const spec = `{"name":"x","train":${deepJson},"grid":{"model":[{"d_model":8,"n_layers":1,"n_heads":2}],"tokens":[10]}}`;
  assert.throws(
    () => parseSweepSpec(spec, { format: 'json' }),
    (e: unknown) =>
      e instanceof SpecError && /^sweep\.train(\.a)+: nests deeper than 32 levels$/.test(e.message),
  );
  assert.throws(() => parseSweepSpec(`train: ${'['.repeat(5000)}${']'.repeat(5000)}`), SpecError);
  assert.throws(
    () => parseJsonl(`${deepJson}\n`),
    (e: unknown) => e instanceof LawsInputError && /line 1: objects nest deeper than 32/.test(e.message),
  );
});
