// The run store: one SQLite file (WAL mode, busy timeout, transactions) holding every run of every sweep.
// Worker processes on one host claim runs atomically, keep their claim alive with heartbeats, and record
// results under the claim's token, so a worker whose claim went stale and was taken over can never overwrite
// the new owner's result. Workers on other hosts (Slurm tasks) never open it: they write result files that
// the one process owning the store ingests (see result-file.ts and ingest()).
//
// Run states: pending -> running -> done | diverged | failed. failed and stale running runs are claimable
// again; done and diverged are final unless invalidated (an artifact failed its checksum).

import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { JsonObject } from '../base/json.ts';
import type { Artifact } from './artifacts.ts';
import { ClaimLostError, StoreError } from './errors.ts';

export const runStatuses = ['pending', 'running', 'done', 'failed', 'diverged'] as const;
export type RunStatus = (typeof runStatuses)[number];

/** The sha256 of each artifact of each dependency a run consumed: { depId: { artifactName: sha256 } }. */
export type RunInputs = Record<string, Record<string, string>>;

/** What the store needs of a job to hold its run (a sweep's Job has this shape). */
export interface NewRun {
  id: string;
  kind: string;
  config: JsonObject;
  deps: string[];
}

export interface RunRecord {
  id: string;
  kind: string;
  config: JsonObject;
  deps: string[];
  status: RunStatus;
  attempts: number;
  claimHost: string | null;
  claimPid: number | null;
  heartbeatAt: number | null;
  metrics: JsonObject | null;
  artifacts: Artifact[];
  inputs: RunInputs | null;
  error: string | null;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

/** A finished attempt recorded outside the store (see result-file.ts), for ingest(). */
export interface RunOutcome {
  id: string;
  kind: string;
  status: 'done' | 'diverged' | 'failed';
  metrics: JsonObject | null;
  artifacts: Artifact[];
  inputs: RunInputs | null;
  error: string | null;
  /** 1 for the first attempt; a requeued Slurm task counts SLURM_RESTART_COUNT + 1. */
  attempt: number;
  host: string;
  pid: number;
  startedAt: number;
  finishedAt: number;
}

/** Who holds a run. The token fences results: only the current holder's token is accepted. */
export interface Claim {
  id: string;
  token: string;
  host: string;
  pid: number;
  attempt: number;
}

export type ClaimResult =
  | { ok: true; claim: Claim }
  | { ok: false; reason: 'done' | 'diverged' | 'running' | 'missing'; record?: RunRecord };

export interface StoreOptions {
  /** How long SQLite waits for another writer's lock before failing. */
  busyTimeoutMs?: number;
  /**
   * 'wal' (the default for a new file) is fastest on one host. 'delete' (rollback journal) needs no shared
   * memory; still, do not share a store between hosts over NFS/Lustre, whose locks SQLite cannot trust (the
   * Slurm executor writes result files instead). When left out, an existing file keeps its mode.
   */
  journalMode?: 'wal' | 'delete';
}

export interface ClaimOptions {
  /** A running claim whose heartbeat is older than this is stale (the worker is presumed dead). */
  staleAfterMs?: number;
  host?: string;
  pid?: number;
}

export const defaultStaleAfterMs = 60_000;

const schema = `
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  config TEXT NOT NULL,
  deps TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending','running','done','failed','diverged')),
  attempts INTEGER NOT NULL DEFAULT 0,
  claim_token TEXT,
  claim_host TEXT,
  claim_pid INTEGER,
  heartbeat_at INTEGER,
  metrics TEXT,
  inputs TEXT,
  error TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER
);
CREATE TABLE IF NOT EXISTS artifacts (
  run_id TEXT NOT NULL REFERENCES runs(id),
  name TEXT NOT NULL,
  path TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  size INTEGER NOT NULL,
  PRIMARY KEY (run_id, name)
);
CREATE TABLE IF NOT EXISTS sweep_runs (
  sweep TEXT NOT NULL,
  run_id TEXT NOT NULL REFERENCES runs(id),
  PRIMARY KEY (sweep, run_id)
);
CREATE TABLE IF NOT EXISTS attempts (
  run_id TEXT NOT NULL REFERENCES runs(id),
  attempt INTEGER NOT NULL,
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  ended_at INTEGER,
  outcome TEXT,
  error TEXT,
  PRIMARY KEY (run_id, attempt)
);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status);
`;

interface RunRow {
  id: string;
  kind: string;
  config: string;
  deps: string;
  status: RunStatus;
  attempts: number;
  claim_token: string | null;
  claim_host: string | null;
  claim_pid: number | null;
  heartbeat_at: number | null;
  metrics: string | null;
  inputs: string | null;
  error: string | null;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  finished_at: number | null;
}

export class RunStore {
  readonly db: Database.Database;

  private constructor(
    readonly path: string,
    options: StoreOptions,
  ) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const fresh = path === ':memory:' || !existsSync(path);
    try {
      this.db = new Database(path, { timeout: options.busyTimeoutMs ?? 30_000 });
    } catch (err) {
      throw new StoreError(`run store ${path}: cannot open: ${(err as Error).message}`);
    }
    const journal = options.journalMode ?? (fresh ? 'wal' : null);
    if (journal) this.db.pragma(`journal_mode = ${journal === 'wal' ? 'WAL' : 'DELETE'}`);
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.exec(schema);
  }

  static open(path: string, options: StoreOptions = {}): RunStore {
    return new RunStore(path, options);
  }

  close(): void {
    this.db.close();
  }

  /** Adds jobs as pending runs (existing runs are kept as they are) and records their sweep membership. */
  addJobs(jobs: NewRun[], sweep?: string): void {
    const now = Date.now();
    const insert = this.db.prepare(
      `INSERT OR IGNORE INTO runs (id, kind, config, deps, status, created_at, updated_at)
       VALUES (?, ?, ?, ?, 'pending', ?, ?)`,
    );
    const member = this.db.prepare('INSERT OR IGNORE INTO sweep_runs (sweep, run_id) VALUES (?, ?)');
    this.db
      .transaction(() => {
        for (const job of jobs) {
          insert.run(job.id, job.kind, JSON.stringify(job.config), JSON.stringify(job.deps), now, now);
          if (sweep) member.run(sweep, job.id);
        }
      })
      .immediate();
  }

  get(id: string): RunRecord | undefined {
    const row = this.db.prepare('SELECT * FROM runs WHERE id = ?').get(id) as RunRow | undefined;
    return row && this.toRecord(row);
  }

  /** Runs, oldest first; filtered by sweep membership, status and kind when given. */
  list(filter: { sweep?: string; status?: RunStatus; kind?: string } = {}): RunRecord[] {
    const conditions: [string, unknown][] = [];
    if (filter.sweep)
      conditions.push(['id IN (SELECT run_id FROM sweep_runs WHERE sweep = ?)', filter.sweep]);
    if (filter.status) conditions.push(['status = ?', filter.status]);
    if (filter.kind) conditions.push(['kind = ?', filter.kind]);
    const where = conditions.map(([c]) => c);
    const args = conditions.map(([, a]) => a);
    const sql = `SELECT * FROM runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, rowid`;
    return (this.db.prepare(sql).all(...args) as RunRow[]).map((r) => this.toRecord(r));
  }

  /**
   * Atomically takes a run for one worker. Succeeds for pending and failed runs and for running runs whose
   * claim is stale: heartbeat older than staleAfterMs, or held by a process on this host that no longer exists.
   */
  claim(id: string, options: ClaimOptions = {}): ClaimResult {
    const host = options.host ?? hostname();
    const pid = options.pid ?? process.pid;
    const staleAfterMs = options.staleAfterMs ?? defaultStaleAfterMs;
    return this.db
      .transaction((): ClaimResult => {
        const row = this.db.prepare('SELECT * FROM runs WHERE id = ?').get(id) as RunRow | undefined;
        if (!row) return { ok: false, reason: 'missing' };
        const now = Date.now();
        if (row.status === 'done' || row.status === 'diverged') {
          return { ok: false, reason: row.status, record: this.toRecord(row) };
        }
        if (row.status === 'running') {
          if (!isStale(row, now, staleAfterMs, host))
            return { ok: false, reason: 'running', record: this.toRecord(row) };
          this.db
            .prepare(
              `UPDATE attempts SET ended_at = ?, outcome = 'stale' WHERE run_id = ? AND attempt = ? AND ended_at IS NULL`,
            )
            .run(now, id, row.attempts);
        }
        const claim: Claim = { id, token: randomUUID(), host, pid, attempt: row.attempts + 1 };
        this.db
          .prepare(
            `UPDATE runs SET status = 'running', attempts = ?, claim_token = ?, claim_host = ?, claim_pid = ?,
             heartbeat_at = ?, started_at = ?, updated_at = ?, error = NULL WHERE id = ?`,
          )
          .run(claim.attempt, claim.token, host, pid, now, now, now, id);
        this.db
          .prepare(
            'INSERT OR REPLACE INTO attempts (run_id, attempt, host, pid, started_at) VALUES (?, ?, ?, ?, ?)',
          )
          .run(id, claim.attempt, host, pid, now);
        return { ok: true, claim };
      })
      .immediate();
  }

  /** Keeps a claim alive. False when the claim is no longer held (the worker should stop). */
  heartbeat(claim: Claim): boolean {
    const now = Date.now();
    const r = this.db
      .prepare(
        `UPDATE runs SET heartbeat_at = ?, updated_at = ? WHERE id = ? AND claim_token = ? AND status = 'running'`,
      )
      .run(now, now, claim.id, claim.token);
    return r.changes === 1;
  }

  /** Records a finished run (done or diverged) with its metrics and artifacts, under the worker's claim. */
  finish(
    claim: Claim,
    result: { status: 'done' | 'diverged'; metrics: JsonObject; artifacts: Artifact[]; inputs?: RunInputs },
  ): void {
    this.db
      .transaction(() => {
        this.assertHeld(claim);
        const now = Date.now();
        this.db.prepare('DELETE FROM artifacts WHERE run_id = ?').run(claim.id);
        const add = this.db.prepare(
          'INSERT INTO artifacts (run_id, name, path, sha256, size) VALUES (?, ?, ?, ?, ?)',
        );
        for (const a of result.artifacts) add.run(claim.id, a.name, a.path, a.sha256, a.size);
        this.db
          .prepare(
            `UPDATE runs SET status = ?, metrics = ?, inputs = ?, error = NULL, claim_token = NULL, claim_host = NULL,
             claim_pid = NULL, heartbeat_at = NULL, finished_at = ?, updated_at = ? WHERE id = ?`,
          )
          .run(
            result.status,
            JSON.stringify(result.metrics),
            JSON.stringify(result.inputs ?? {}),
            now,
            now,
            claim.id,
          );
        this.endAttempt(claim.id, claim.attempt, result.status, null, now);
      })
      .immediate();
  }

  /** Records a failed attempt with its reason; the run can be claimed again later. */
  fail(claim: Claim, error: string): void {
    this.db
      .transaction(() => {
        this.assertHeld(claim);
        this.markFailed(claim.id, claim.attempt, error);
      })
      .immediate();
  }

  /**
   * Marks a run failed if it is still held by the given process (the executor's view after a worker died
   * without recording anything). Returns whether it did.
   */
  failIfHeldBy(id: string, host: string, pid: number, error: string): boolean {
    return this.db
      .transaction(() => {
        const row = this.db.prepare('SELECT * FROM runs WHERE id = ?').get(id) as RunRow | undefined;
        if (row?.status !== 'running' || row.claim_host !== host || row.claim_pid !== pid) return false;
        this.markFailed(id, row.attempts, error);
        return true;
      })
      .immediate();
  }

  /** Sends a finished run back to pending (e.g. its checkpoint failed its checksum), keeping the reason. */
  invalidate(id: string, reason: string): void {
    this.db
      .transaction(() => {
        const now = Date.now();
        this.db.prepare('DELETE FROM artifacts WHERE run_id = ?').run(id);
        this.db
          .prepare(
            `UPDATE runs SET status = 'pending', error = ?, metrics = NULL, inputs = NULL, finished_at = NULL, updated_at = ?
             WHERE id = ? AND status IN ('done', 'diverged')`,
          )
          .run(`redo: ${reason}`, now, id);
      })
      .immediate();
  }

  /**
   * Records an outcome that a worker without access to the store wrote (a Slurm task's result file). Only an
   * outcome newer than what the store holds is taken, so ingesting the same files again changes nothing and
   * an old failed attempt never overwrites a later success. Returns whether the store changed.
   */
  ingest(outcome: RunOutcome): boolean {
    return this.db
      .transaction(() => {
        const row = this.db.prepare('SELECT * FROM runs WHERE id = ?').get(outcome.id) as RunRow | undefined;
        if (!row)
          throw new StoreError(`run ${outcome.id}: not in the store ${this.path}; plan its sweep first`);
        if (row.kind !== outcome.kind)
          throw new StoreError(
            `run ${outcome.id}: the outcome is of kind ${outcome.kind}, the run of ${row.kind}`,
          );
        if (row.finished_at !== null && row.finished_at >= outcome.finishedAt) return false;
        const now = Date.now();
        this.db.prepare('DELETE FROM artifacts WHERE run_id = ?').run(outcome.id);
        const add = this.db.prepare(
          'INSERT INTO artifacts (run_id, name, path, sha256, size) VALUES (?, ?, ?, ?, ?)',
        );
        for (const a of outcome.artifacts) add.run(outcome.id, a.name, a.path, a.sha256, a.size);
        this.db
          .prepare(
            `UPDATE runs SET status = ?, attempts = MAX(attempts, ?), metrics = ?, inputs = ?, error = ?,
             claim_token = NULL, claim_host = NULL, claim_pid = NULL, heartbeat_at = NULL, started_at = ?,
             finished_at = ?, updated_at = ? WHERE id = ?`,
          )
          .run(
            outcome.status,
            outcome.attempt,
            outcome.metrics === null ? null : JSON.stringify(outcome.metrics),
            outcome.inputs === null ? null : JSON.stringify(outcome.inputs),
            outcome.error,
            outcome.startedAt,
            outcome.finishedAt,
            now,
            outcome.id,
          );
        this.db
          .prepare(
            `INSERT OR REPLACE INTO attempts (run_id, attempt, host, pid, started_at, ended_at, outcome, error)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            outcome.id,
            outcome.attempt,
            outcome.host,
            outcome.pid,
            outcome.startedAt,
            outcome.finishedAt,
            outcome.status,
            outcome.error,
          );
        return true;
      })
      .immediate();
  }

  /** Every attempt of a run, in order: who ran it and how it ended. */
  attempts(
    id: string,
  ): { attempt: number; host: string; pid: number; outcome: string | null; error: string | null }[] {
    return this.db
      .prepare('SELECT attempt, host, pid, outcome, error FROM attempts WHERE run_id = ? ORDER BY attempt')
      .all(id) as {
      attempt: number;
      host: string;
      pid: number;
      outcome: string | null;
      error: string | null;
    }[];
  }

  private markFailed(id: string, attempt: number, error: string): void {
    const now = Date.now();
    this.db
      .prepare(
        `UPDATE runs SET status = 'failed', error = ?, claim_token = NULL, claim_host = NULL, claim_pid = NULL,
         heartbeat_at = NULL, finished_at = ?, updated_at = ? WHERE id = ?`,
      )
      .run(error, now, now, id);
    this.endAttempt(id, attempt, 'failed', error, now);
  }

  private endAttempt(id: string, attempt: number, outcome: string, error: string | null, now: number): void {
    this.db
      .prepare('UPDATE attempts SET ended_at = ?, outcome = ?, error = ? WHERE run_id = ? AND attempt = ?')
      .run(now, outcome, error, id, attempt);
  }

  private assertHeld(claim: Claim): void {
    const row = this.db.prepare('SELECT status, claim_token FROM runs WHERE id = ?').get(claim.id) as
      | { status: RunStatus; claim_token: string | null }
      | undefined;
    if (row?.status !== 'running' || row.claim_token !== claim.token) {
      throw new ClaimLostError(
        `run ${claim.id}: attempt ${claim.attempt} by pid ${claim.pid} on ${claim.host} no longer holds the run ` +
          `(status ${row?.status ?? 'missing'}); its result is discarded`,
      );
    }
  }

  private toRecord(row: RunRow): RunRecord {
    const artifacts = this.db
      .prepare('SELECT name, path, sha256, size FROM artifacts WHERE run_id = ? ORDER BY name')
      .all(row.id) as Artifact[];
    return {
      id: row.id,
      kind: row.kind,
      config: JSON.parse(row.config),
      deps: JSON.parse(row.deps),
      status: row.status,
      attempts: row.attempts,
      claimHost: row.claim_host,
      claimPid: row.claim_pid,
      heartbeatAt: row.heartbeat_at,
      metrics: row.metrics ? JSON.parse(row.metrics) : null,
      artifacts,
      inputs: row.inputs ? JSON.parse(row.inputs) : null,
      error: row.error,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      startedAt: row.started_at,
      finishedAt: row.finished_at,
    };
  }
}

function isStale(row: RunRow, now: number, staleAfterMs: number, host: string): boolean {
  if (row.heartbeat_at === null || now - row.heartbeat_at > staleAfterMs) return true;
  return row.claim_host === host && row.claim_pid !== null && !processAlive(row.claim_pid);
}

/** Whether a running run's claim is stale, i.e. whether claim() would take it over now. */
export function claimIsStale(record: RunRecord, options: ClaimOptions = {}): boolean {
  if (record.status !== 'running') return false;
  const row = {
    heartbeat_at: record.heartbeatAt,
    claim_host: record.claimHost,
    claim_pid: record.claimPid,
  } as RunRow;
  return isStale(row, Date.now(), options.staleAfterMs ?? defaultStaleAfterMs, options.host ?? hostname());
}

/** Whether a process exists on this host (EPERM means it exists but belongs to someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
