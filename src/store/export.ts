// Exports of the run store: JSONL (one run per line, nested values kept) and CSV (flat, one column per
// config/metric key, for spreadsheets and pandas).

import { closeSync, openSync, readSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { writeFileAtomic } from '../base/atomic-write.ts';
import { StoreError } from './errors.ts';
import { type RunRecord, type RunStatus, RunStore } from './run-store.ts';

export const exportFormats = ['csv', 'jsonl'] as const;
export type ExportFormat = (typeof exportFormats)[number];

export interface StoreExport {
  /** The run store to read; it must exist (a misspelled path is refused, not created). */
  store: string;
  format: ExportFormat;
  /** Write here, atomically; without it the text is returned. */
  out?: string;
  sweep?: string;
  status?: RunStatus;
}

/** Exports the runs of an existing store; returns the text when no `out` is given. */
export function exportStore(options: StoreExport): string | undefined {
  assertRunStore(options.store);
  const store = RunStore.open(options.store);
  try {
    const runs = store.list({ sweep: options.sweep, status: options.status });
    if (options.out) exportRuns(runs, options.out, options.format);
    else return options.format === 'csv' ? runsToCsv(runs) : runsToJsonl(runs);
  } finally {
    store.close();
  }
}

/**
 * Refuses a path that holds no run store, before anything opens it for writing: opening would create an
 * empty database at a misspelled path, or add our tables to someone else's SQLite file.
 */
export function assertRunStore(path: string): void {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat)
    throw new StoreError(`run store ${path} does not exist (pass --store with the path a sweep wrote)`);
  if (!stat.isFile()) throw new StoreError(`run store ${path} is not a file`);
  const magic = Buffer.alloc(16);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, magic, 0, 16, 0);
  } finally {
    closeSync(fd);
  }
  if (magic.toString('latin1') !== 'SQLite format 3\u0000')
    throw new StoreError(`run store ${path} is not an SQLite database`);
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const table = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'runs'").get();
    if (!table)
      throw new StoreError(`run store ${path} is an SQLite database without a runs table (not a run store)`);
  } finally {
    db.close();
  }
}

export function runsToJsonl(runs: RunRecord[]): string {
  return runs.map((r) => `${JSON.stringify(r)}\n`).join('');
}

/** Flattens nested config/metrics into dotted columns: config.model.d_model, metrics.val_loss, ... */
export function runsToCsv(runs: RunRecord[]): string {
  const rows = runs.map((r) => {
    const flat: Record<string, unknown> = {
      id: r.id,
      kind: r.kind,
      status: r.status,
      attempts: r.attempts,
      error: r.error,
      created_at: iso(r.createdAt),
      finished_at: iso(r.finishedAt),
      deps: r.deps.join(' '),
    };
    flatten(r.config, 'config', flat);
    flatten(r.metrics ?? {}, 'metrics', flat);
    for (const a of r.artifacts) {
      flat[`artifact.${a.name}.path`] = a.path;
      flat[`artifact.${a.name}.sha256`] = a.sha256;
      flat[`artifact.${a.name}.size`] = a.size;
    }
    return flat;
  });
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const lines = [
    columns.map(csvCell).join(','),
    ...rows.map((r) => columns.map((c) => csvCell(r[c])).join(',')),
  ];
  return `${lines.join('\n')}\n`;
}

export function exportRuns(runs: RunRecord[], path: string, format: ExportFormat): void {
  writeFileAtomic(path, format === 'csv' ? runsToCsv(runs) : runsToJsonl(runs));
}

function flatten(value: unknown, prefix: string, out: Record<string, unknown>): void {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, `${prefix}.${k}`, out);
  } else out[prefix] = Array.isArray(value) ? JSON.stringify(value) : value;
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
