// Epoch AI's Chinchilla replication (Besiroglu et al. 2024, github.com/epoch-research/analyzing-chinchilla):
// their data preparation, so `fitLaw(chinchillaForm(), epochChinchillaDataset(rows))` is their procedure.
//
// What their code does: read data/svg_extracted_data.csv (points digitised from Hoffmann et al. Fig. 4),
// drop the 5 rows with the highest loss, set D = FLOP / (6 N), and minimize the SUM over points of
// scipy.special.huber(1e-3, LSE(a - alpha log N, b - beta log D, e) - log L) with L-BFGS-B from every
// point of the grid alpha, beta in {0, .5, .., 2}, e in {-1, -.5, .., 1}, a, b in {0, 5, .., 25}
// (4,500 starts), keeping the start with the lowest objective.

import type { Dataset, Row } from './dataset.ts';
import { datasetFromRows } from './dataset.ts';
import { dropHighestLoss, tokensFromCompute } from './transforms.ts';

/** Epoch's single grid fit on the 240 points (the numbers our fitter must reproduce). */
export const EPOCH_SINGLE_FIT = { A: 477.84, B: 2143.86, E: 1.8172, alpha: 0.3473, beta: 0.3672 } as const;

/** Epoch's bootstrap-based estimates with their standard errors. */
export const EPOCH_BOOTSTRAP = {
  A: { value: 482.01, stderr: 124.58 },
  B: { value: 2085.43, stderr: 1293.23 },
  E: { value: 1.82, stderr: 0.03 },
  alpha: { value: 0.3478, stderr: 0.02 },
  beta: { value: 0.3658, stderr: 0.02 },
} as const;

/**
 * Rows of svg_extracted_data.csv (columns 'Model Size', 'Training FLOP', 'loss') to the 240-point
 * dataset with N, D (= FLOP / 6N) and loss, the 5 highest-loss rows removed.
 */
export function epochChinchillaDataset(records: readonly Row[]): Dataset {
  const all = datasetFromRows(records, ['N', 'C'], { columns: { N: 'Model Size', C: 'Training FLOP' } });
  return tokensFromCompute(dropHighestLoss(all, 5));
}
