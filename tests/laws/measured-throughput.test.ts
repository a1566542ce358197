// The hardware cost model's rates measured by a training-step benchmark (src/laws/measured-throughput.ts): a
// format's throughput is the bf16 step's time over its own step's, from natively computed rows only; results
// written before rows recorded their compute are read by their mode labels; errors name the file, the shape or
// the field and what is allowed. And the answer they price: fp8 steps measured slower than bf16 buy fewer
// tokens × parameters than bf16.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { LawsOptionError } from '../../src/laws/errors.ts';
import { readStepBenchThroughput } from '../../src/laws/io-node.ts';
import { throughputFromStepBench } from '../../src/laws/measured-throughput.ts';
import { precisionCurve } from '../../src/laws/optimize.ts';
import { precisionFit } from './kumar-fit.ts';

const row = (shape: string, mode: string, ms: number, compute?: { format: string; path: string }) => ({
  shape,
  mode,
  ...(compute && { compute }),
  bitscale: { msPerStep: ms, tokensPerSecond: 16384 / (ms / 1000) },
});
const results = (...rows: object[]) => JSON.stringify({ machine: 'a GPU', rows });
const native = (format: string) => ({ format, path: 'native' });
const emulated = (format: string) => ({ format, path: 'fake-quant' });

test('rates from natively computed rows: bf16 time over the format time; emulated rows give none', () => {
  const text = results(
    row('d1024', 'bf16', 100, native('bf16')),
    row('d1024', 'qat int4/int8/kv-int4', 112, emulated('int4/int8/kv-int4')),
    row('d1024', 'fp8 e4m3 w/a native', 62.5, native('fp8')),
    row('d1024', 'fp8 e4m3 w/a fake-quant', 120, emulated('fp8')),
  );
  const m = throughputFromStepBench(text, 'steps.json');
  assert.deepEqual(m.throughput, { bf16: 1, fp8: 1.6 });
  assert.equal(m.shape, 'd1024');
  assert.equal(m.machine, 'a GPU');
});

test("results written before rows recorded their compute: read by their labels (this repo's H200 FP8 run)", () => {
  const file = 'bench/results/cuda-train-step-h200-fp8.json';
  const raw = JSON.parse(readFileSync(file, 'utf8')) as {
    rows: { mode: string; bitscale?: { msPerStep: number } }[];
  };
  const ms = (mode: string) => raw.rows.find((r) => r.mode === mode)!.bitscale!.msPerStep;
  const m = readStepBenchThroughput(file);
  assert.equal(m.throughput.fp8, ms('bf16') / ms('fp8 e4m3 w/a native'));
  assert.deepEqual(Object.keys(m.throughput).sort(), ['bf16', 'fp8']);
  assert.match(m.machine ?? '', /H200/);
});

test('a measured table prices the answer: fp8 measured slower than bf16 buys fewer N·D than bf16', () => {
  const measured = throughputFromStepBench(
    results(row('d1024', 'bf16', 100, native('bf16')), row('d1024', 'fp8', 125, native('fp8'))),
    'steps.json',
  ).throughput;
  const at = (t: Record<string, number>) =>
    precisionCurve(precisionFit, [1e21], {
      cost: { name: 'hardware', throughput: t, source: 'measured' },
    })[0];
  const fp8 = at({ fp8: measured.fp8 });
  const bf16 = at({ bf16: measured.bf16 });
  assert.ok(Math.abs((fp8.N * fp8.D) / (bf16.N * bf16.D) - 0.8) < 1e-9);
  assert.match(at(measured).cost, /measured throughput bf16 ×1, fp8 ×0\.8/);
});

test('bad input: errors name the file, the shape or the format, and what is allowed', () => {
  const fails = (text: string, pattern: RegExp, shape?: string) =>
    assert.throws(
      () => throughputFromStepBench(text, 'steps.json', shape),
      (e: unknown) => e instanceof LawsOptionError && pattern.test(e.message),
    );
  fails('{ not json', /--throughput-from = "steps\.json".*JSON/);
  fails(JSON.stringify({ rows: [] }), /steps\.json.*rows with a shape and bitscale\.msPerStep/);
  const two = results(
    row('d512', 'bf16', 50, native('bf16')),
    row('d512', 'fp8', 40, native('fp8')),
    row('d1024', 'bf16', 100, native('bf16')),
    row('d1024', 'fp8', 70, native('fp8')),
  );
  fails(two, /--throughput-shape.*d512, d1024/);
  fails(two, /--throughput-shape = "d2048".*d512, d1024/, 'd2048');
  assert.equal(throughputFromStepBench(two, 'steps.json', 'd512').throughput.fp8, 50 / 40);
  fails(results(row('d1024', 'fp8', 70, native('fp8'))), /a bf16 row at d1024/);
  fails(
    results(row('d1024', 'bf16', 100, native('bf16')), row('d1024', 'qat', 110, emulated('int8'))),
    /natively besides bf16 at d1024 \(fake-quantized rows are emulations/,
  );
  fails(
    results(row('d1024', 'bf16', 100, native('bf16')), row('d1024', 'x', 90, native('fp5'))),
    /format = "fp5".*a format of/,
  );
  assert.throws(
    () => readStepBenchThroughput('no/such/steps.json'),
    /cannot read step benchmark results 'no\/such\/steps\.json'/,
  );
});
