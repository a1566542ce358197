import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { StoreError } from '../../src/store/errors.ts';
import {
  outcomeOf,
  readResultFile,
  readResultFiles,
  resultFilePath,
  writeResultFile,
} from '../../src/store/result-file.ts';
import { type RunOutcome, RunStore } from '../../src/store/run-store.ts';
import { makeJob } from '../../src/sweep/job.ts';

const train = makeJob('train', { model: { d_model: 64 }, tokens: 1000 });

function outcome(over: Partial<RunOutcome> = {}): RunOutcome {
  return {
    id: train.id,
    kind: 'train',
    status: 'done',
    metrics: { loss: 3.5 },
    artifacts: [{ name: 'checkpoint', path: '/x/ckpt', sha256: 'ab'.repeat(32), size: 10 }],
    inputs: {},
    error: null,
    attempt: 1,
    host: 'node7',
    pid: 123,
    startedAt: 1000,
    finishedAt: 2000,
    ...over,
  };
}

test('result files round-trip, leave no temp file, and a bad one is refused naming the file and field', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bitscale-results-'));
  writeResultFile(dir, outcome());
  assert.deepEqual(readdirSync(dir), [`${train.id}.json`]);
  assert.deepEqual(readResultFile(resultFilePath(dir, train.id)), { version: 1, ...outcome() });
  assert.equal(readResultFile(join(dir, 'missing.json')), null);
  assert.deepEqual([...readResultFiles(join(dir, 'no-such-folder')).keys()], []);

  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ ...outcome(), version: 1, status: 'running' }));
  assert.throws(
    () => readResultFile(bad),
    (e: Error) => {
      assert.ok(e instanceof StoreError);
      assert.match(e.message, /bad\.json: status is "running", expected done, diverged or failed/);
      return true;
    },
  );
  writeFileSync(bad, '{ half');
  assert.throws(() => readResultFile(bad), /bad\.json: not JSON/);
});

test('ingest takes only outcomes newer than the store holds: a stale failure never hides a success', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bitscale-results-'));
  const store = RunStore.open(join(dir, 'bitscale.db'));
  store.addJobs([train]);

  assert.equal(
    store.ingest(outcome({ status: 'failed', metrics: null, artifacts: [], error: 'killed' })),
    true,
  );
  assert.equal(store.get(train.id)?.status, 'failed');
  assert.equal(store.get(train.id)?.error, 'killed');

  // The requeued attempt finished later: it replaces the failure, and is counted as attempt 2.
  assert.equal(store.ingest(outcome({ attempt: 2, startedAt: 3000, finishedAt: 4000 })), true);
  const done = store.get(train.id)!;
  assert.equal(done.status, 'done');
  assert.equal(done.attempts, 2);
  assert.deepEqual(done.metrics, { loss: 3.5 });
  assert.deepEqual(
    done.artifacts.map((a) => a.name),
    ['checkpoint'],
  );
  assert.deepEqual(
    store.attempts(train.id).map((a) => [a.attempt, a.outcome, a.host]),
    [
      [1, 'failed', 'node7'],
      [2, 'done', 'node7'],
    ],
  );

  // Ingesting the same files again, or an older one, changes nothing.
  assert.equal(store.ingest(outcome({ attempt: 2, startedAt: 3000, finishedAt: 4000 })), false);
  assert.equal(store.ingest(outcome({ status: 'failed', error: 'old', finishedAt: 2500 })), false);
  assert.equal(store.get(train.id)?.status, 'done');

  // A finished run exported as an outcome reads back the same.
  assert.deepEqual(outcomeOf(store.get(train.id)!), {
    ...outcome({ attempt: 2, startedAt: 3000, finishedAt: 4000 }),
    host: '',
    pid: 0,
  });

  assert.throws(() => store.ingest(outcome({ id: 'ffffffffffffffff' })), /not in the store/);
  assert.throws(
    () => store.ingest(outcome({ kind: 'ptq', finishedAt: 9000 })),
    /of kind ptq, the run of train/,
  );
  store.close();
});
