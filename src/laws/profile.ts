// Profile-likelihood intervals, next to the bootstrap: for each parameter, the values at which refitting
// every other parameter cannot bring the fit back within the 95% bound. The likelihood is Gaussian on
// log-loss residuals (least squares), so the deviance of a profile point is n log(SSR / SSR_min) and the
// interval is where it stays below the chi-square(1) 95% quantile, 3.84. Unlike a bootstrap refitted from
// the optimum, it does not collapse when a parameter sits in a flat valley: it walks out until the data
// object, or says that they never do (the interval is open on that side).

import type { ObjectiveFn } from './lbfgsb.ts';
import { LbfgsbSolver } from './lbfgsb.ts';

const CHI2_1_95 = 3.841458820694124;

export interface ProfileInterval {
  /** In internal space (log where the parameter is); +-Infinity or a bound where the data never object. */
  readonly lower: number;
  readonly upper: number;
  /** Which sides the data do not close: the interval reaches a bound or the end of the walk. */
  readonly open: readonly ('lower' | 'upper')[];
}

/**
 * `sumSquares` is half the sum of squared residuals over `points` training points, with its gradient.
 * `theta` is where to start (the fit's optimum); `lower`/`upper` the parameters' bounds.
 */
export function profileIntervals(
  sumSquares: ObjectiveFn,
  points: number,
  theta: Float64Array,
  lower: readonly number[],
  upper: readonly number[],
): ProfileInterval[] {
  const p = theta.length;
  const solver = new LbfgsbSolver(p);
  const tight = { ftol: 1e-14, gtol: 1e-11, maxIterations: 500 };
  const best = solver.minimize(sumSquares, theta, { lower, upper, ...tight });
  const ssrMin = best.f;
  const deviance = (f: number) => (ssrMin > 0 ? points * Math.log(f / ssrMin) : f > 0 ? Infinity : 0);

  return Array.from({ length: p }, (_, j) => {
    // f at theta_j = value, every other parameter refitted (warm-started from the last profile point).
    let warm = Float64Array.from(best.x);
    const profile = (value: number) => {
      const lo = [...lower];
      const hi = [...upper];
      lo[j] = value;
      hi[j] = value;
      const x0 = Float64Array.from(warm);
      x0[j] = value;
      const r = solver.minimize(sumSquares, x0, { lower: lo, upper: hi, ...tight });
      if (Number.isFinite(r.f)) warm = Float64Array.from(r.x);
      return deviance(r.f);
    };
    const centre = best.x[j];
    const step0 = 0.02 * Math.max(Math.abs(centre), 0.1);
    const side = (sign: 1 | -1): { end: number; open: boolean } => {
      warm = Float64Array.from(best.x);
      const bound = sign > 0 ? upper[j] : lower[j];
      let inside = centre;
      let step = step0;
      for (let k = 0; k < 40; k++) {
        let value = centre + sign * step;
        const atBound = sign > 0 ? value >= bound : value <= bound;
        if (atBound) value = bound;
        if (!(profile(value) <= CHI2_1_95)) {
          // Bisect between the last value inside and this one.
          let out = value;
          for (let it = 0; it < 30; it++) {
            const mid = 0.5 * (inside + out);
            if (profile(mid) <= CHI2_1_95) inside = mid;
            else out = mid;
          }
          return { end: 0.5 * (inside + out), open: false };
        }
        inside = value;
        if (atBound) return { end: bound, open: true };
        step *= 1.8;
      }
      return { end: sign > 0 ? Infinity : -Infinity, open: true };
    };
    const lo = side(-1);
    const hi = side(1);
    return {
      lower: lo.end,
      upper: hi.end,
      open: [...(lo.open ? (['lower'] as const) : []), ...(hi.open ? (['upper'] as const) : [])],
    };
  });
}
