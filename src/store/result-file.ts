// A run's outcome written to its own file by a worker that never opens the run store (a Slurm array task).
// Tasks on many hosts share only a file system, and SQLite's locking over NFS/Lustre is unreliable (SQLite
// itself advises against it), so each task writes results/<run id>.json atomically (temp file, fsync,
// rename) and the one process that owns the store, on the submitting host, ingests the files. A task never
// needs a lock: Slurm runs each array task at most once at a time (a requeued task starts only after the
// old one ended), so exactly one writer per file exists, and rename makes each write all-or-nothing.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../base/atomic-write.ts';
import { StoreError } from './errors.ts';
import type { RunOutcome, RunRecord } from './run-store.ts';

const statuses = new Set(['done', 'diverged', 'failed']);

export function resultFilePath(dir: string, id: string): string {
  return join(dir, `${id}.json`);
}

export function writeResultFile(dir: string, outcome: RunOutcome): string {
  const path = resultFilePath(dir, outcome.id);
  writeFileAtomic(path, `${JSON.stringify({ version: 1, ...outcome })}\n`);
  return path;
}

/** Reads one result file; null when it does not exist. A file that exists but is not a result throws. */
export function readResultFile(path: string): RunOutcome | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new StoreError(`result file ${path}: cannot read it: ${(err as Error).message}`);
  }
  let r: Partial<RunOutcome> & { version?: unknown };
  try {
    r = JSON.parse(text);
  } catch (err) {
    throw new StoreError(`result file ${path}: not JSON: ${(err as Error).message}`);
  }
  const bad = (field: string, allowed: string) =>
    new StoreError(
      `result file ${path}: ${field} is ${JSON.stringify((r as Record<string, unknown>)[field])}, expected ${allowed}`,
    );
  if (r.version !== 1) throw bad('version', '1');
  if (typeof r.id !== 'string') throw bad('id', 'a run id');
  if (typeof r.kind !== 'string') throw bad('kind', 'a job kind');
  if (!statuses.has(r.status as string)) throw bad('status', 'done, diverged or failed');
  if (!Array.isArray(r.artifacts)) throw bad('artifacts', 'a list');
  for (const f of ['attempt', 'pid', 'startedAt', 'finishedAt'] as const)
    if (!Number.isFinite(r[f])) throw bad(f, 'a number');
  return r as RunOutcome;
}

/** Every result file in a folder (a missing folder has none), by run id. */
export function readResultFiles(dir: string): Map<string, RunOutcome> {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json'));
  } catch {
    return new Map();
  }
  const out = new Map<string, RunOutcome>();
  for (const name of names) {
    const r = readResultFile(join(dir, name));
    if (r) out.set(r.id, r);
  }
  return out;
}

/** A finished run of the store as a result file's content (so tasks can read the dependencies they need). */
export function outcomeOf(record: RunRecord): RunOutcome {
  if (record.status !== 'done' && record.status !== 'diverged' && record.status !== 'failed')
    throw new StoreError(`run ${record.id} is ${record.status}; only finished runs have an outcome`);
  return {
    id: record.id,
    kind: record.kind,
    status: record.status,
    metrics: record.metrics,
    artifacts: record.artifacts,
    inputs: record.inputs,
    error: record.error,
    attempt: record.attempts,
    host: record.claimHost ?? '',
    pid: record.claimPid ?? 0,
    startedAt: record.startedAt ?? 0,
    finishedAt: record.finishedAt ?? 0,
  };
}
