// Dataset preparation steps that published fits apply (Epoch: drop outliers, derive D from compute).

import type { Dataset } from './dataset.ts';
import { selectPoints } from './dataset.ts';
import { LawsInputError, LawsOptionError } from './errors.ts';

/** D = C / (k N): tokens from training compute (k = 6 FLOPs per parameter per token). */
export function tokensFromCompute(data: Dataset, flopsPerParamToken = 6): Dataset {
  const { N, C } = data.columns;
  if (!N || !C)
    throw new LawsInputError("deriving D = C/(6N) needs columns 'N' and 'C'", undefined, N ? 'C' : 'N');
  return { ...data, columns: { ...data.columns, D: C.map((c, i) => c / (flopsPerParamToken * N[i])) } };
}

/** Remove the `count` points with the highest loss (ties: the later row goes first), keeping input order. */
export function dropHighestLoss(data: Dataset, count: number): Dataset {
  if (!(Number.isInteger(count) && count >= 0 && count < data.n)) {
    throw new LawsOptionError('dropHighestLoss', count, `a whole number in [0, ${data.n - 1}]`);
  }
  const byLoss = [...Array(data.n).keys()].sort((i, j) => data.loss[i] - data.loss[j] || i - j);
  const dropped = new Set(byLoss.slice(data.n - count));
  return selectPoints(
    data,
    [...Array(data.n).keys()].filter((i) => !dropped.has(i)),
  );
}
