// Which runs may enter a fit: finished runs with a loss. Diverged runs are kept in the store and in the
// run table but left out here, and the report lists them so the exclusion is visible.

import type { RunRow } from './types.ts';

export interface FitInputs {
  /** Finished training runs with a loss. */
  train: RunRow[];
  /** Finished PTQ runs with a delta_PTQ. */
  ptq: RunRow[];
  /** Diverged runs, excluded from every fit. */
  excluded: RunRow[];
}

export function fitInputs(runs: RunRow[]): FitInputs {
  const usable = (r: RunRow) => r.status === 'done' && r.loss !== null && Number.isFinite(r.loss);
  return {
    train: runs.filter((r) => r.kind === 'train' && usable(r)),
    ptq: runs.filter(
      (r) => r.kind === 'ptq' && usable(r) && r.deltaPtq != null && Number.isFinite(r.deltaPtq),
    ),
    excluded: runs.filter((r) => r.status === 'diverged'),
  };
}
