import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { learningOrder } from '../../../src/experiments/quanta/emergence.ts';
import { mlpParameterCount } from '../../../src/experiments/quanta/mlp.ts';
import { runQuantaSweep } from '../../../src/experiments/quanta/sweep.ts';
import { type QuantaRunConfig, trainQuanta } from '../../../src/experiments/quanta/train.ts';
import { RunStore } from '../../../src/store/run-store.ts';

const tiny = (width: number, steps = 400, samples: number | null = null): QuantaRunConfig => ({
  task: { nTasks: 3, n: 16, k: 3, zipfExponent: 1.4, seed: 1 },
  model: { width, depth: 1, activation: 'relu' },
  train: {
    steps,
    batchSize: 128,
    lr: 1e-2,
    weightDecay: 0,
    samples,
    evalEvery: 20,
    heldOutPerTask: 64,
    seed: 0,
  },
});

test('an MLP learns the most frequent tasks of a small multitask sparse parity, most frequent first', async () => {
  const r = await trainQuanta(tiny(64));
  assert.equal(r.parameters, mlpParameterCount({ width: 64, depth: 1, activation: 'relu' }, 3, 16));
  assert.equal(r.parameters, 3 * 64 + 64 * 16 + 64 + 2 * 64 + 2);
  // Every 20 steps, plus log-spaced early evaluations (1, 2, 3, 4, 5, 7, 9, 12, 15, 19).
  assert.equal(r.curve.steps.filter((x) => x % 20 === 0).length, 20);
  assert.deepEqual(r.curve.steps.slice(0, 5), [1, 2, 3, 4, 5]);
  assert.ok(r.curve.steps.every((x, i) => i === 0 || x > r.curve.steps[i - 1]));
  assert.equal(r.curve.perTaskLoss.length, 3);
  const first = r.curve.perTaskLoss.map((c) => c[0]);
  for (const l of first) assert.ok(Math.abs(l - Math.LN2) < 0.15, `initial per-task loss ${l}`);
  assert.ok(
    r.curve.perTaskAccuracy[0].at(-1)! > 0.95,
    `task 0 accuracy ${r.curve.perTaskAccuracy[0].at(-1)}`,
  );
  assert.ok(r.testLoss < 0.3, `test loss ${r.testLoss}`);
  const order = learningOrder(r.curve.steps, r.curve.perTaskLoss);
  assert.ok(order.learned >= 2, `${order.learned} tasks learned`);
  const [e0, e1] = order.emergences;
  assert.ok(e0.step !== null && e0.step > 20, 'task 0 starts at chance and emerges later');
  assert.ok(
    first.every((l) => l > 0.5),
    'every task starts near chance',
  );
  assert.ok(e1.step !== null && e0.step < e1.step, `task 0 at ${e0.step}, task 1 at ${e1.step}`);
});

test('a repeated small training pool overfits: held-out loss stays above the streaming run', async () => {
  const pool = await trainQuanta(tiny(64, 400, 64));
  const stream = await trainQuanta(tiny(64, 400));
  assert.ok(pool.bestTestLoss > stream.bestTestLoss + 0.05, `${pool.bestTestLoss} vs ${stream.bestTestLoss}`);
  await assert.rejects(
    trainQuanta({ ...tiny(64), train: { ...tiny(64).train, steps: 0 } }),
    /train\.steps = 0/,
  );
  await assert.rejects(trainQuanta(tiny(0)), /model\.width = 0/);
  await assert.rejects(
    trainQuanta({ ...tiny(4), train: { ...tiny(4).train, backend: 'nope' } }),
    /unknown backend 'nope'/,
  );
});

test('sweeps run as quanta-train jobs through the run store, in process and in worker processes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quanta-sweep-'));
  try {
    const configs = [tiny(4, 50), tiny(16, 50)];
    const first = await runQuantaSweep('t', configs, dir, { executor: 'in-process', workers: 1 });
    assert.deepEqual(
      first.map((r) => r.config.model.width),
      [4, 16],
    );
    assert.ok(first[1].result.parameters > first[0].result.parameters);
    const store = RunStore.open(join(dir, 'bitscale.db'));
    const runs = store.list({ sweep: 't', kind: 'quanta-train' });
    store.close();
    assert.equal(runs.length, 2);
    for (const r of runs) {
      assert.equal(r.status, 'done');
      assert.equal(typeof r.metrics?.testLoss, 'number');
    }
    // Re-running reuses the finished runs (same results), and a new config runs in a worker process.
    const again = await runQuantaSweep('t', [...configs, tiny(8, 30)], dir, {
      executor: 'local',
      workers: 1,
    });
    assert.deepEqual(again[0].result, first[0].result);
    assert.equal(again[2].config.model.width, 8);
    assert.equal(again[2].result.steps, 30);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
