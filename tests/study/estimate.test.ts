// The dry run's cost model: throughput measured on finished runs, charged by device share when jobs shared a
// device, and the device-hours of a plan from it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RunRecord } from '../../src/store/run-store.ts';
import { estimateJobs, formatKey, measureThroughput, trainingFlops } from '../../src/study/estimate.ts';
import type { TrainConfig } from '../../src/sweep/expand.ts';
import { makeJob } from '../../src/sweep/job.ts';

const config = (d: number, tokens: number): TrainConfig => ({
  model: { d_model: d, n_layers: 2, n_heads: 2, context: 64 },
  tokens,
  precision: { w: 'fp32', a: 'fp32', kv: 'fp32' },
  seed: 0,
  train: { vocabSize: 512 },
});

function run(kind: string, cfg: object, startedAt: number, seconds: number): RunRecord {
  return {
    ...({} as RunRecord),
    id: `${kind}${startedAt}`,
    kind,
    config: cfg as RunRecord['config'],
    status: 'done',
    startedAt,
    finishedAt: startedAt + seconds * 1000,
  };
}

test('training time is start-up plus FLOPs at the measured rate; runs sharing a device pay their share', () => {
  const rate = 1e12;
  const overhead = 3;
  const shapes = [config(64, 1e6), config(128, 2e6), config(256, 4e6)];
  // One device, one job at a time: wall time is device time.
  const alone = shapes.map((c, i) => run('train', c, i * 1e6, overhead + trainingFlops(c) / rate));
  const t = measureThroughput(alone, 1)!;
  assert.ok(Math.abs(t.flopsPerSecond / rate - 1) < 1e-6, `rate ${t.flopsPerSecond}`);
  assert.ok(Math.abs(t.overheadSeconds - overhead) < 1e-6);
  // The same runs two at a time on one device take twice as long: the same device time.
  const shared = shapes.flatMap((c, i) => [
    run('train', c, i * 1e6, 2 * (overhead + trainingFlops(c) / rate)),
    run('train', c, i * 1e6, 2 * (overhead + trainingFlops(c) / rate)),
  ]);
  const s = measureThroughput(shared, 1)!;
  assert.ok(Math.abs(s.flopsPerSecond / rate - 1) < 0.02, `rate ${s.flopsPerSecond}`);
  // On two devices the pair does not share: wall time is device time again (and twice the rate's time).
  const two = measureThroughput(shared, 2)!;
  assert.ok(Math.abs(two.flopsPerSecond / (rate / 2) - 1) < 0.02, `rate ${two.flopsPerSecond}`);
});

test('a plan costs its training runs at the model plus its PTQ jobs at the mean', () => {
  const t = {
    overheadSeconds: 10,
    flopsPerSecond: 1e12,
    ptqSeconds: 5,
    trainRuns: 3,
    ptqRuns: 3,
    devices: 1,
  };
  const c = config(128, 1e7);
  const train = makeJob('train', c);
  const jobs = [
    train,
    makeJob('ptq', { source: train.id, precision: 'int4', method: 'rtn', settings: {} }, [train.id]),
  ];
  const e = estimateJobs(jobs, t);
  assert.equal(e.trainJobs, 1);
  assert.equal(e.ptqJobs, 1);
  assert.ok(Math.abs(e.trainHours - (10 + trainingFlops(c) / 1e12) / 3600) < 1e-12);
  assert.ok(Math.abs(e.ptqHours - 5 / 3600) < 1e-12);
  assert.equal(e.distillJobs, 0);
  assert.equal(measureThroughput([], 1), null);

  // A OneBit student of the same run for 2e6 tokens: the student's 6 N D plus the teacher's forward 2 N D.
  const student = makeJob(
    'onebit-distill',
    { teacher: train.id, tokens: 2e6, init: 'svid-nmf', loss: 'distill', train: {}, distill: {} },
    [train.id],
  );
  const withStudent = estimateJobs([...jobs, student], t);
  const distillSeconds = 10 + (trainingFlops({ ...c, tokens: 2e6 }) * 8) / 6 / 1e12;
  assert.equal(withStudent.distillJobs, 1);
  assert.equal(withStudent.otherJobs, 0);
  assert.ok(Math.abs(withStudent.distillHours - distillSeconds / 3600) < 1e-12);
  assert.ok(Math.abs(withStudent.hours - e.hours - distillSeconds / 3600) < 1e-12);
});

test('each compute format is charged at its own measured rate; an unmeasured one at the rate of all runs', () => {
  const overhead = 2;
  const at = (c: TrainConfig, rate: number, i: number) =>
    run('train', c, i * 1e6, overhead + trainingFlops(c) / rate);
  const fp8 = (d: number, tokens: number): TrainConfig => ({
    ...config(d, tokens),
    precision: { w: 'fp8_e4m3', a: 'fp8_e4m3', kv: 'fp32' },
  });
  // fp32 runs at 1e12 FLOP/s, FP8 runs at twice that.
  const records = [
    at(config(64, 1e6), 1e12, 0),
    at(config(128, 2e6), 1e12, 1),
    at(config(256, 4e6), 1e12, 2),
    at(fp8(64, 2e6), 2e12, 3),
    at(fp8(128, 4e6), 2e12, 4),
    at(fp8(256, 8e6), 2e12, 5),
  ];
  const t = measureThroughput(records, 1)!;
  const keys = Object.keys(t.byFormat ?? {});
  assert.equal(keys.length, 2, keys.join(' | '));
  const rate = (c: TrainConfig) => t.byFormat![formatKey(c)].flopsPerSecond;
  assert.ok(rate(fp8(64, 1)) / rate(config(64, 1)) > 1.5, `${rate(fp8(64, 1))} vs ${rate(config(64, 1))}`);
  // The plan: the same shape in both formats; FP8's training time is the shorter.
  const one = (c: TrainConfig) => estimateJobs([makeJob('train', c)], t).trainHours;
  const expect = (c: TrainConfig) => (t.overheadSeconds + trainingFlops(c) / rate(c)) / 3600;
  assert.ok(Math.abs(one(config(192, 3e6)) - expect(config(192, 3e6))) < 1e-12);
  assert.ok(Math.abs(one(fp8(192, 3e6)) - expect(fp8(192, 3e6))) < 1e-12);
  assert.ok(one(fp8(192, 3e6)) < one(config(192, 3e6)));
  assert.equal(estimateJobs([makeJob('train', fp8(192, 3e6))], t).trainJobsAtFormatRate, 1);
  // A format no run measured (int4 weights) falls back to the rate of all runs.
  const int4: TrainConfig = { ...config(192, 3e6), precision: { w: 'int4', a: 'fp32', kv: 'fp32' } };
  const fallback = (t.overheadSeconds + trainingFlops(int4) / t.flopsPerSecond) / 3600;
  assert.ok(Math.abs(one(int4) - fallback) < 1e-12);
  // A throughput file without per-format rates (written before them) still estimates at the overall rate.
  const { byFormat: _, ...old } = t;
  assert.ok(
    Math.abs(
      estimateJobs([makeJob('train', fp8(192, 3e6))], old).trainHours -
        (old.overheadSeconds + trainingFlops(fp8(192, 3e6)) / old.flopsPerSecond) / 3600,
    ) < 1e-12,
  );
});
