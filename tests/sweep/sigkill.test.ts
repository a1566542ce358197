// Reliability: SIGKILL the sweep process in the middle of a training job, and in the middle of a PTQ job;
// run the sweep again; every job completes exactly once, interrupted jobs resume, nothing finished is redone.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { RunStore } from '../../src/store/run-store.ts';
import { planSweep } from '../../src/sweep/plan.ts';
import { countBy, readLedger, syntheticExecutor, syntheticSpec } from './fixtures/synthetic-sweep.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function killMidJob(kind: 'train' | 'ptq') {
  const dir = mkdtempSync(join(tmpdir(), `bitscale-kill-${kind}-`));
  const steps = 16;
  const sweep = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'run-sweep.ts'), dir, String(steps)],
    {
      stdio: 'ignore',
    },
  );
  const exited = new Promise((r) => sweep.on('exit', r));
  // Wait until some job of this kind is at least two steps in and not finished, with another job finished.
  let victim: string | undefined;
  for (let i = 0; i < 600 && !victim; i++) {
    await sleep(25);
    const lines = readLedger(dir);
    const completed = countBy(lines, 'complete');
    victim = lines.find(
      (l) =>
        l[0] === 'step' &&
        l[1] === kind &&
        Number(l[3]) >= 2 &&
        Number(l[3]) <= steps - 8 &&
        !completed.has(l[2]),
    )?.[2];
    if (completed.size === 0) victim = undefined;
  }
  assert.ok(victim, `no ${kind} job was caught mid-way`);
  sweep.kill('SIGKILL');
  await exited;
  const before = readLedger(dir);
  const finishedBefore = [...countBy(before, 'complete').keys()];

  const plan = planSweep(syntheticSpec(dir, { steps, stepMs: 40 }), { dir });
  const report = await syntheticExecutor().execute(plan);
  assert.deepEqual(report.counts, { pending: 0, running: 0, done: 8, failed: 0, diverged: 0 });

  const after = readLedger(dir);
  const completed = countBy(after, 'complete');
  assert.equal(completed.size, 8);
  for (const [id, n] of completed) assert.equal(n, 1, `job ${id} completed ${n} times`);
  const starts = countBy(after, 'start');
  for (const id of finishedBefore) assert.equal(starts.get(id), 1, `finished job ${id} was redone`);
  // A restarted job resumed from its saved state instead of starting over. (Its orphaned worker may also
  // have finished it before noticing the sweep was gone; then it ran once, in its first attempt.)
  const victimStarts = after.filter((l) => l[0] === 'start' && l[2] === victim);
  if (victimStarts.length >= 2)
    assert.notEqual(victimStarts.at(-1)![4], 'from=0', 'the victim restarted from scratch');

  const store = RunStore.open(plan.storePath);
  const runs = store.list();
  assert.equal(runs.length, 8, 'no duplicate runs');
  assert.ok(runs.every((r) => r.status === 'done' && r.claimPid === null && r.artifacts.length === 1));
  const attempts = store.attempts(victim!);
  assert.equal(attempts.length, victimStarts.length);
  assert.equal(attempts.at(-1)!.outcome, 'done');
  assert.ok(
    attempts.slice(0, -1).every((a) => a.outcome === 'failed' || a.outcome === 'stale'),
    JSON.stringify(attempts),
  );
  assert.equal(store.db.pragma('integrity_check', { simple: true }), 'ok');
  store.close();
}

test('SIGKILL in the middle of training, then re-run: every job completes exactly once', () =>
  killMidJob('train'));
test('SIGKILL in the middle of PTQ, then re-run: every job completes exactly once', () => killMidJob('ptq'));
