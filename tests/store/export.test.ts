// `bitscale runs export` reads an existing run store and refuses anything else, creating nothing.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { StoreError } from '../../src/store/errors.ts';
import { exportStore } from '../../src/store/export.ts';
import { RunStore } from '../../src/store/run-store.ts';
import { makeJob } from '../../src/sweep/job.ts';

const dir = mkdtempSync(join(tmpdir(), 'bitscale-export-'));

test('a missing, non-SQLite or foreign store is refused and left as it was', () => {
  const missing = join(dir, 'typo', 'bitscale.db');
  assert.throws(
    () => exportStore({ store: missing, format: 'csv' }),
    (e: unknown) => e instanceof StoreError && /does not exist/.test(e.message),
  );
  assert.equal(existsSync(join(dir, 'typo')), false, 'nothing is created');

  const text = join(dir, 'notes.db');
  writeFileSync(text, 'not a database');
  assert.throws(() => exportStore({ store: text, format: 'csv' }), /is not an SQLite database/);
  assert.throws(() => exportStore({ store: dir, format: 'csv' }), /is not a file/);

  const foreign = join(dir, 'other.db');
  const db = new Database(foreign);
  db.exec('CREATE TABLE t (x)');
  db.close();
  const before = readFileSync(foreign);
  assert.throws(() => exportStore({ store: foreign, format: 'jsonl' }), /without a runs table/);
  assert.deepEqual(readFileSync(foreign), before, 'a foreign database is not modified');
});

test('an existing store exports; the CLI refuses a missing one with exit code 1', () => {
  const path = join(dir, 'runs.db');
  const store = RunStore.open(path);
  store.addJobs([makeJob('train', { tokens: 100 })], 'quick');
  store.close();
  const csv = exportStore({ store: path, format: 'csv' }) ?? '';
  assert.match(csv.split('\n')[0], /^id,kind,status/);
  assert.equal(csv.trim().split('\n').length, 2);

  const missing = join(dir, 'missing.db');
  const cli = spawnSync(process.execPath, ['bin/bitscale.mjs', 'runs', 'export', '--store', missing], {
    encoding: 'utf8',
  });
  assert.equal(cli.status, 1, cli.stderr);
  assert.match(cli.stderr, /missing\.db does not exist/);
  assert.equal(existsSync(missing), false);
  const ok = spawnSync(
    process.execPath,
    ['bin/bitscale.mjs', 'runs', 'export', '--store', path, '--format', 'jsonl'],
    { encoding: 'utf8' },
  );
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(JSON.parse(ok.stdout).kind, 'train');
  assert.ok(statSync(path).size > 0);
});
