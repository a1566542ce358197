// The run store's records of a study, flattened into the rows the analysis fits.
import type { RunRecord } from '../store/run-store.ts';
import type { StudyRow } from './analyze.ts';

const num = (v: unknown) => (typeof v === 'number' ? v : Number.NaN);

export function studyRows(records: RunRecord[]): StudyRow[] {
  const byId = new Map(records.map((r) => [r.id, r]));
  const rows: StudyRow[] = [];
  for (const r of records) {
    if (r.kind !== 'train' && r.kind !== 'ptq') continue;
    if (r.status !== 'done' && r.status !== 'diverged' && r.status !== 'failed') continue;
    // Activation PTQ (W8A8 and kin) is not what the precision laws predict: the outlier section reads it.
    if (r.kind === 'ptq' && typeof r.config.activations === 'string') continue;
    const trainRecord = r.kind === 'train' ? r : byId.get(String(r.config.source));
    if (!trainRecord) continue;
    const precision = trainRecord.config.precision as { w: string; a: string; kv: string };
    const m = (r.metrics ?? {}) as Record<string, unknown>;
    const tm = (trainRecord.metrics ?? {}) as Record<string, unknown>;
    const status = r.status as StudyRow['status'];
    rows.push({
      id: r.id,
      kind: r.kind,
      status,
      N: num(tm.N),
      D: num(tm.D ?? trainRecord.config.tokens),
      Pw: num(tm.Pw),
      Pa: num(tm.Pa),
      Pkv: num(tm.Pkv),
      Ppost: r.kind === 'ptq' ? num(m.Ppost) : Number.POSITIVE_INFINITY,
      loss: num(m.valLoss),
      labels: {
        ...precision,
        ...(r.kind === 'ptq' ? { post: String(r.config.precision), method: String(r.config.method) } : {}),
      },
      ...(r.kind === 'ptq' ? { deltaPtq: num(m.deltaPtq), source: trainRecord.id } : {}),
    });
  }
  return rows;
}
