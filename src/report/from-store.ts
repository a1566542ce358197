// Run rows from run-store records. The store holds resolved configs and metrics as JSON; this reads the
// fields the analysis needs and computes N from the model shape when the trainer did not record it.

import { isPrecisionName, precisionBits } from '../numerics/precision.ts';
import type { RunRecord } from '../store/run-store.ts';
import type { RunRow } from './types.ts';

/** Non-embedding parameters of a decoder-only Transformer: 12 * n_layers * d_model^2 (attention + 4x MLP). */
export function estimateParams(model: { d_model?: unknown; n_layers?: unknown }): number {
  return 12 * Number(model.n_layers) * Number(model.d_model) ** 2;
}

const bitsOf = (p: unknown) => (isPrecisionName(p) ? precisionBits(p) : Number.NaN);

export function runRowsFromRecords(records: RunRecord[]): RunRow[] {
  const byId = new Map(records.map((r) => [r.id, r]));
  const rows: RunRow[] = [];
  for (const r of records) {
    const train = r.kind === 'ptq' ? byId.get(String(r.config.source)) : r;
    if (!train || (r.kind !== 'train' && r.kind !== 'ptq')) continue;
    const c = train.config as {
      model: Record<string, unknown>;
      tokens: number;
      seed: number;
      precision: Record<string, string>;
    };
    const m = r.metrics ?? {};
    const trainMetrics = train.metrics ?? {};
    const row: RunRow = {
      id: r.id,
      kind: r.kind,
      status: r.status,
      N: typeof trainMetrics.params === 'number' ? trainMetrics.params : estimateParams(c.model),
      D: c.tokens,
      precision:
        c.precision.w === c.precision.a && c.precision.a === c.precision.kv
          ? c.precision.w
          : `w${c.precision.w}/a${c.precision.a}/kv${c.precision.kv}`,
      P_w: bitsOf(c.precision.w),
      P_a: bitsOf(c.precision.a),
      P_kv: bitsOf(c.precision.kv),
      seed: c.seed,
      loss: typeof m.loss === 'number' ? m.loss : null,
    };
    if (r.kind === 'ptq') {
      row.ptqPrecision = String(r.config.precision);
      row.P_post = bitsOf(r.config.precision);
      row.method = String(r.config.method);
      row.deltaPtq = typeof m.delta_ptq === 'number' ? m.delta_ptq : null;
    }
    rows.push(row);
  }
  return rows;
}
