// y = A * x^k fitted through the laws module (Huber on log residuals, L-BFGS from a grid of starts,
// bootstrap over points for the interval of k). k is the log-log slope: negative when y falls with x.

import { datasetFromRows, expressionForm, fitLaw } from '../../laws/index.ts';
import { OnebitNtkError } from './errors.ts';

export interface Point {
  x: number;
  y: number;
}

export interface PowerLawFit {
  prefactor: number;
  /** The log-log slope k. */
  exponent: number;
  /** 95% bootstrap interval of k (2.5th and 97.5th percentiles). */
  interval: [number, number];
  points: Point[];
}

const form = expressionForm('A * x^k', { variables: ['x'], linear: ['k'] });

export function fitPowerLaw(
  points: readonly Point[],
  options: { bootstrap?: number; seed?: number } = {},
): PowerLawFit {
  const usable = points.filter((p) => p.x > 0 && p.y > 0 && Number.isFinite(p.x) && Number.isFinite(p.y));
  if (new Set(usable.map((p) => p.x)).size < 2) {
    throw new OnebitNtkError(
      `a power law needs positive values at 2 or more distinct x; got ${JSON.stringify(points)}`,
    );
  }
  const data = datasetFromRows(
    usable.map((p) => ({ x: p.x, loss: p.y })),
    ['x'],
  );
  const fit = fitLaw(form, data, { bootstrap: options.bootstrap ?? 200, seed: options.seed ?? 0 });
  const k = fit.params.k;
  const ks = (fit.bootstrap?.samples ?? [])
    .map((s) => s[form.params.findIndex((q) => q.name === 'k')])
    .sort((a, b) => a - b);
  const interval: [number, number] = ks.length > 0 ? [quantile(ks, 0.025), quantile(ks, 0.975)] : [k, k];
  return { prefactor: fit.params.A, exponent: k, interval, points: usable };
}

function quantile(sorted: readonly number[], q: number): number {
  const at = q * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}
