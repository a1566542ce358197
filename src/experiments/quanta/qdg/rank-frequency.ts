// Rank-frequency of cluster sizes: sizes sorted largest first against rank 1, 2, ...; the Zipf exponent
// is minus the least-squares slope of log(size) on log(rank). The quanta model predicts an envelope of
// slope -(alpha + 1) where alpha is the parameter-scaling exponent.

export interface RankFrequency {
  /** Cluster sizes, largest first. */
  sizes: number[];
  /** Fitted size ∝ rank^-zipfExponent over the ranks with size >= minSize. */
  zipfExponent: number;
  intercept: number;
  ranksFitted: number;
}

export function rankFrequency(labels: ArrayLike<number>, minSize = 1): RankFrequency {
  const counts = new Map<number, number>();
  for (let i = 0; i < labels.length; i++) counts.set(labels[i], (counts.get(labels[i]) ?? 0) + 1);
  const sizes = [...counts.values()].sort((a, b) => b - a);
  const fitted = sizes.filter((s) => s >= minSize);
  const x = fitted.map((_, r) => Math.log(r + 1));
  const y = fitted.map(Math.log);
  const { slope, intercept } = leastSquares(x, y);
  return { sizes, zipfExponent: -slope, intercept, ranksFitted: fitted.length };
}

export function leastSquares(
  x: readonly number[],
  y: readonly number[],
): { slope: number; intercept: number } {
  const n = x.length;
  if (n < 2) return { slope: Number.NaN, intercept: Number.NaN };
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
  }
  const slope = sxx > 0 ? sxy / sxx : Number.NaN;
  return { slope, intercept: my - slope * mx };
}
