import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { artifactProblem, describeArtifact } from '../../src/store/artifacts.ts';
import { ClaimLostError } from '../../src/store/errors.ts';
import { runsToCsv, runsToJsonl } from '../../src/store/export.ts';
import { RunStore } from '../../src/store/run-store.ts';
import { makeJob } from '../../src/sweep/job.ts';

const fresh = () => {
  const dir = mkdtempSync(join(tmpdir(), 'bitscale-store-'));
  return { dir, store: RunStore.open(join(dir, 'bitscale.db')) };
};
const train = makeJob('train', { model: { d_model: 64 }, tokens: 1000 });
const ptq = makeJob('ptq', { source: train.id, precision: 'int4' }, [train.id]);

test('adding jobs is idempotent and records sweep membership', () => {
  const { store } = fresh();
  store.addJobs([train, ptq], 'a');
  store.addJobs([train, ptq], 'a');
  store.addJobs([train], 'b');
  assert.equal(store.list().length, 2);
  assert.deepEqual(
    store.list({ sweep: 'b' }).map((r) => r.id),
    [train.id],
  );
  assert.deepEqual(store.get(ptq.id)?.deps, [train.id]);
  assert.equal(store.get(train.id)?.status, 'pending');
  store.close();
});

test('a claim is exclusive while its holder lives; finish needs the current token', () => {
  const { store } = fresh();
  store.addJobs([train]);
  const first = store.claim(train.id);
  assert.ok(first.ok);
  const second = store.claim(train.id);
  assert.deepEqual([second.ok, !second.ok && second.reason], [false, 'running']);
  assert.ok(store.heartbeat(first.claim));
  store.finish(first.claim, { status: 'done', metrics: { loss: 3.2 }, artifacts: [] });
  const r = store.get(train.id)!;
  assert.equal(r.status, 'done');
  assert.deepEqual(r.metrics, { loss: 3.2 });
  assert.equal(r.claimPid, null);
  const again = store.claim(train.id);
  assert.deepEqual([again.ok, !again.ok && again.reason], [false, 'done']);
  assert.throws(
    () => store.finish(first.claim, { status: 'done', metrics: {}, artifacts: [] }),
    ClaimLostError,
  );
  store.close();
});

test('stale claims are reclaimed: expired heartbeat, or a dead process on this host', () => {
  const { store } = fresh();
  store.addJobs([train, ptq]);
  const old = store.claim(train.id);
  assert.ok(old.ok);
  // Heartbeat older than staleAfterMs: taken over, and the old holder can no longer record anything.
  store.db.prepare('UPDATE runs SET heartbeat_at = heartbeat_at - 120000 WHERE id = ?').run(train.id);
  const taken = store.claim(train.id, { pid: process.pid + 1, staleAfterMs: 60_000 });
  assert.ok(taken.ok);
  assert.equal(taken.claim.attempt, 2);
  assert.equal(store.heartbeat(old.claim), false);
  assert.throws(() => store.fail(old.claim, 'late'), ClaimLostError);
  assert.deepEqual(
    store.attempts(train.id).map((a) => a.outcome),
    ['stale', null],
  );

  // A pid that does not exist on this host: reclaimed at once, heartbeat notwithstanding.
  const dead = store.claim(ptq.id, { pid: 2 ** 22 + 12345 });
  assert.ok(dead.ok);
  assert.ok(store.claim(ptq.id).ok);
  // The same pid on another host is not checked (we cannot see it); only its heartbeat counts.
  store.addJobs([makeJob('train', { other: 1 })]);
  const id = store.list().at(-1)!.id;
  assert.ok(store.claim(id, { host: 'elsewhere', pid: 2 ** 22 + 12345 }).ok);
  assert.equal(store.claim(id).ok, false);
  store.close();
});

test('failures keep their reason and can be claimed again; failIfHeldBy only touches its own claim', () => {
  const { store } = fresh();
  store.addJobs([train]);
  const c = store.claim(train.id);
  assert.ok(c.ok);
  assert.equal(store.failIfHeldBy(train.id, c.claim.host, c.claim.pid + 1, 'not mine'), false);
  assert.equal(store.failIfHeldBy(train.id, c.claim.host, c.claim.pid, 'worker killed by SIGKILL'), true);
  assert.equal(store.get(train.id)?.status, 'failed');
  assert.equal(store.get(train.id)?.error, 'worker killed by SIGKILL');
  const retry = store.claim(train.id);
  assert.ok(retry.ok && retry.claim.attempt === 2);
  store.close();
});

test('many processes racing for one run: exactly one wins', async () => {
  const { dir, store } = fresh();
  store.addJobs([train]);
  store.close();
  const db = join(dir, 'bitscale.db');
  const outcomes = await Promise.all(
    Array.from({ length: 6 }, () => {
      const child = spawn(process.execPath, [
        '--import',
        'tsx',
        join(import.meta.dirname, 'claim-worker.ts'),
        db,
        train.id,
      ]);
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      return new Promise<{ ok: boolean }>((resolve) => child.on('close', () => resolve(JSON.parse(out))));
    }),
  );
  assert.equal(outcomes.filter((o) => o.ok).length, 1);
});

test('artifacts are trusted only when size and sha256 match', () => {
  const { dir } = fresh();
  const path = join(dir, 'ckpt.bin');
  writeFileSync(path, 'weights'.repeat(100));
  const a = describeArtifact('checkpoint', path);
  assert.equal(a.size, 700);
  assert.equal(artifactProblem([a]), null);
  writeFileSync(path, 'weightz'.repeat(100)); // same size, other bytes
  assert.match(artifactProblem([a]) ?? '', /has sha256 .* recorded/);
  truncateSync(path, 10);
  assert.match(artifactProblem([a]) ?? '', /has 10 bytes, recorded 700/);
  assert.match(artifactProblem([{ ...a, path: join(dir, 'gone') }]) ?? '', /is missing/);
});

test('invalidate sends a finished run back to pending with the reason', () => {
  const { store } = fresh();
  store.addJobs([train]);
  const c = store.claim(train.id);
  assert.ok(c.ok);
  store.finish(c.claim, {
    status: 'done',
    metrics: { loss: 1 },
    artifacts: [{ name: 'checkpoint', path: '/x', sha256: 'ab', size: 2 }],
  });
  store.invalidate(train.id, 'artifact checkpoint is missing');
  const r = store.get(train.id)!;
  assert.deepEqual(
    [r.status, r.artifacts.length, r.error],
    ['pending', 0, 'redo: artifact checkpoint is missing'],
  );
  store.close();
});

test('exports: JSONL keeps nesting, CSV flattens and quotes', () => {
  const { store } = fresh();
  store.addJobs([train, ptq]);
  const c = store.claim(train.id);
  assert.ok(c.ok);
  store.finish(c.claim, { status: 'done', metrics: { loss: 2.5, note: 'a, "b"' }, artifacts: [] });
  const runs = store.list();
  const lines = runsToJsonl(runs)
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    lines.map((l) => l.id),
    [train.id, ptq.id],
  );
  assert.equal(lines[0].config.model.d_model, 64);
  const csv = runsToCsv(runs).trim().split('\n');
  const header = csv[0].split(',');
  assert.ok(
    header.includes('config.model.d_model') &&
      header.includes('metrics.loss') &&
      header.includes('config.source'),
  );
  assert.equal(csv.length, 3);
  assert.ok(csv[1].includes('"a, ""b"""'));
  store.close();
});
