// GPU jobs on a machine's GPUs: one job per GPU at a time (each sees only its own through
// CUDA_VISIBLE_DEVICES), spread over all of them; CPU jobs beside them; a GPU job with no GPU refused before
// any job starts; a time budget that starts no new root; --gpus checked against the visible GPUs. The GPUs
// here are ids handed to the executor: no GPU is needed to test the scheduling.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { GpuSelectionError, selectGpus, visibleGpus } from '../../src/sweep/gpus.ts';
import { planSweep } from '../../src/sweep/plan.ts';
import { readLedger, syntheticExecutor, syntheticSpec } from './fixtures/synthetic-sweep.ts';

const field = (line: string[], key: string) =>
  line.find((w) => w.startsWith(`${key}=`))?.slice(key.length + 1);

test('training jobs get one GPU each, spread over the GPUs; PTQ jobs run on the CPU', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bitscale-gpu-slots-'));
  const plan = planSweep(syntheticSpec(dir, { steps: 3, stepMs: 60, tokens: [1000, 2000, 4000] }), { dir });
  const report = await syntheticExecutor({
    gpus: ['3', '5'],
    needsGpu: (job) => job.kind === 'train',
    maxWorkers: 2,
  }).execute(plan);
  assert.equal(report.counts.done, plan.jobs.length);
  const lines = readLedger(dir);
  const starts = lines.filter((l) => l[0] === 'start');
  const ends = new Map(
    lines.filter((l) => l[0] === 'complete' && l[1] === 'train').map((l) => [l[2], Number(field(l, 't'))]),
  );
  const trains = starts.filter((l) => l[1] === 'train');
  assert.equal(trains.length, 6);
  assert.deepEqual(
    new Set(trains.map((l) => field(l, 'gpu'))),
    new Set(['3', '5']),
    'both GPUs used, no other',
  );
  for (const l of starts.filter((l) => l[1] === 'ptq')) assert.equal(field(l, 'gpu'), '-', 'PTQ sees no GPU');
  // Never two training jobs on one GPU at once.
  for (const a of trains) {
    for (const b of trains) {
      if (a === b || field(a, 'gpu') !== field(b, 'gpu')) continue;
      const [a0, a1] = [Number(field(a, 't')), ends.get(a[2])!];
      const [b0, b1] = [Number(field(b, 't')), ends.get(b[2])!];
      assert.ok(a1 <= b0 || b1 <= a0, `jobs ${a[2]} and ${b[2]} overlap on GPU ${field(a, 'gpu')}`);
    }
  }
});

test('a GPU job with no GPU given is refused before any job starts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bitscale-gpu-none-'));
  const plan = planSweep(syntheticSpec(dir), { dir });
  await assert.rejects(
    syntheticExecutor({ gpus: [], needsGpu: (job) => job.kind === 'train' }).execute(plan),
    (e: Error) => e instanceof GpuSelectionError && /needs a GPU, and none was given/.test(e.message),
  );
  assert.equal(readLedger(dir).length, 0);
});

test('a spent time budget starts no training run and returns at once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bitscale-gpu-budget-'));
  const plan = planSweep(syntheticSpec(dir), { dir });
  const started = Date.now();
  const report = await syntheticExecutor({ startRootsUntil: Date.now() - 1 }).execute(plan);
  assert.ok(Date.now() - started < 5000);
  assert.equal(report.counts.done, 0);
  assert.equal(report.counts.pending, plan.jobs.length);
  assert.equal(readLedger(dir).length, 0);
});

test('--gpus is checked against the visible GPUs, by value', () => {
  assert.deepEqual(selectGpus(undefined, ['0', '1']), ['0', '1']);
  assert.deepEqual(selectGpus('all', ['0', '1']), ['0', '1']);
  assert.deepEqual(selectGpus('none', ['0', '1']), []);
  assert.deepEqual(selectGpus('1', ['0', '1']), ['1']);
  assert.throws(() => selectGpus('2', ['0', '1']), /--gpus: GPU "2" does not exist here \(visible: 0, 1\)/);
  assert.throws(() => selectGpus('0', []), /visible: none/);
  assert.throws(() => selectGpus('0,0', ['0', '1']), /names a GPU twice/);
  assert.deepEqual(visibleGpus({ CUDA_VISIBLE_DEVICES: '2, 3' }), ['2', '3']);
  assert.deepEqual(visibleGpus({ CUDA_VISIBLE_DEVICES: '' }), []);
});
