// Spearman rank correlation: the Pearson correlation of the ranks, with tied values given their average
// rank (so tasks never learned, all at +Infinity, tie at the end instead of being dropped).

import { QuantaError } from './errors.ts';

/** 1-based ranks, ties averaged. */
export function ranks(values: readonly number[]): number[] {
  const order = values
    .map((v, i) => [v, i] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out = new Array<number>(values.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1][0] === order[i][0]) j++;
    const rank = (i + j) / 2 + 1;
    for (let m = i; m <= j; m++) out[order[m][1]] = rank;
    i = j + 1;
  }
  return out;
}

/** Spearman's rho of x and y (same length >= 2); NaN when either is constant. */
export function spearman(x: readonly number[], y: readonly number[]): number {
  if (x.length !== y.length) throw new QuantaError(`spearman: x has ${x.length} values, y has ${y.length}`);
  if (x.length < 2) return Number.NaN;
  return pearson(ranks(x), ranks(y));
}

export function pearson(x: readonly number[], y: readonly number[]): number {
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : Number.NaN;
}
