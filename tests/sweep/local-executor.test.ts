import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { RunStore } from '../../src/store/run-store.ts';
import { planSweep } from '../../src/sweep/plan.ts';
import { formatProgress, type SweepProgress } from '../../src/sweep/progress.ts';
import { countBy, readLedger, syntheticExecutor, syntheticSpec } from './fixtures/synthetic-sweep.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'bitscale-sweep-'));

test('a sweep runs every job once; a re-run skips finished runs; a damaged checkpoint is redone', async () => {
  const dir = tmp();
  const plan = planSweep(syntheticSpec(dir), { dir });
  const seen: SweepProgress[] = [];
  const report = await syntheticExecutor({ onProgress: (p) => seen.push(p) }).execute(plan);
  assert.deepEqual(report.counts, { pending: 0, running: 0, done: 8, failed: 0, diverged: 0 });
  assert.deepEqual(report.failures, []);
  const ledger = readLedger(dir);
  assert.equal(countBy(ledger, 'complete').size, 8);
  assert.ok([...countBy(ledger, 'complete').values()].every((n) => n === 1));
  assert.equal(seen.at(-1)?.done, 8);
  assert.ok(seen.some((p) => p.running > 0));
  assert.match(
    formatProgress(seen.at(-1)!),
    /^\[sweep synthetic\] 8\/8 done · 0 running · 0 failed · 0 pending · ETA 0s$/,
  );

  // Re-run: nothing starts again.
  const again = await syntheticExecutor().execute(planSweep(syntheticSpec(dir), { dir }));
  assert.equal(again.counts.done, 8);
  assert.equal(readLedger(dir).length, ledger.length);

  // Truncate one training checkpoint: that run is redone, and so are the PTQ runs that consumed it.
  const store = RunStore.open(plan.storePath);
  const victim = store.list({ kind: 'train' })[0];
  const ckpt = victim.artifacts.find((a) => a.name === 'checkpoint')!;
  writeFileSync(ckpt.path, readFileSync(ckpt.path).subarray(0, 100));
  const third = await syntheticExecutor().execute(planSweep(syntheticSpec(dir), { dir }));
  assert.equal(third.counts.done, 8);
  const starts = readLedger(dir)
    .slice(ledger.length)
    .filter((l) => l[0] === 'start');
  const dependents = store.list({ kind: 'ptq' }).filter((r) => r.deps.includes(victim.id));
  assert.deepEqual(starts.map((l) => l[2]).sort(), [victim.id, ...dependents.map((d) => d.id)].sort());
  assert.equal(store.get(victim.id)?.attempts, 2);
  store.close();
});

test('a diverged run is stored as diverged and its PTQ jobs are blocked, not failed', async () => {
  const dir = tmp();
  const plan = planSweep(syntheticSpec(dir, { divergePrecision: 'int4', tokens: [1000] }), { dir });
  const report = await syntheticExecutor().execute(plan);
  assert.deepEqual(report.counts, { pending: 1, running: 0, done: 2, failed: 0, diverged: 1 });
  assert.equal(report.blocked.length, 1);
  assert.match(report.blocked[0].reason, /^dependency [0-9a-f]{16} diverged$/);
  const store = RunStore.open(plan.storePath);
  const diverged = store.list({ status: 'diverged' });
  assert.equal(diverged.length, 1);
  assert.equal((diverged[0].config.precision as { w: string }).w, 'int4');
  // Re-running does not retry a diverged run.
  await syntheticExecutor().execute(plan);
  assert.equal(store.get(diverged[0].id)?.attempts, 1);
  store.close();
});

test('failures are recorded with their reason: a throwing job and a worker killed by a signal', async () => {
  const dir = tmp();
  const spec = syntheticSpec(dir, { tokens: [1000], precisions: ['fp32'], ptq: [] });
  // Point the ledger into a missing directory: the job throws on its first append.
  const broken = { ...spec, train: { ...spec.train, ledger: join(dir, 'missing', 'ledger.txt') } };
  const plan = planSweep(broken, { dir });
  const report = await syntheticExecutor().execute(plan);
  assert.equal(report.failures.length, 1);
  assert.match(report.failures[0].reason, /ENOENT.*missing\/ledger\.txt/);

  // A worker that dies by a signal: the executor records how it died.
  const dir2 = tmp();
  const plan2 = planSweep(
    syntheticSpec(dir2, { tokens: [1000], precisions: ['fp32'], ptq: [], steps: 50, stepMs: 100 }),
    {
      dir: dir2,
    },
  );
  const run = syntheticExecutor().execute(plan2);
  const store = RunStore.open(plan2.storePath);
  let pid: number | null = null;
  while (pid === null) {
    await new Promise((r) => setTimeout(r, 100));
    pid = store.get(plan2.jobs[0].id)?.claimPid ?? null;
  }
  process.kill(pid, 'SIGKILL');
  const report2 = await run;
  assert.equal(report2.failures.length, 1);
  assert.match(report2.failures[0].reason, /^worker killed by SIGKILL/);
  assert.equal(store.get(plan2.jobs[0].id)?.status, 'failed');
  store.close();
});
