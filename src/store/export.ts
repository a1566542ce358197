// Exports of the run store: JSONL (one run per line, nested values kept) and CSV (flat, one column per
// config/metric key, for spreadsheets and pandas).

import { writeFileAtomic } from '../base/atomic-write.ts';
import type { RunRecord } from './run-store.ts';

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

export function exportRuns(runs: RunRecord[], path: string, format: 'csv' | 'jsonl'): void {
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
