// L-BFGS with bounds (an active-set variant of L-BFGS-B) and a strong-Wolfe line search.
//
// Each iteration: variables sitting on a bound with the gradient pushing outward are held fixed; the
// two-loop recursion gives a quasi-Newton direction in the remaining ones; the step is capped so the
// point stays feasible, and chosen by the Nocedal & Wright line search (Alg. 3.5/3.6) with safeguarded
// cubic interpolation. Stopping rules follow SciPy's L-BFGS-B: projected gradient inf-norm <= gtol, or
// relative decrease (f_k - f_k+1) / max(|f_k|, |f_k+1|, 1) <= ftol.
// A solver owns its work arrays and is reused across the thousands of starts of a multi-start fit.

/** Objective: returns f(x) and writes the gradient into g. Infinity marks an undefined point. */
export type ObjectiveFn = (x: Float64Array, g: Float64Array) => number;

export interface MinimizeOptions {
  readonly lower?: ArrayLike<number>;
  readonly upper?: ArrayLike<number>;
  /** Correction pairs kept (SciPy's maxcor). */
  readonly memory?: number;
  readonly maxIterations?: number;
  readonly gtol?: number;
  readonly ftol?: number;
}

export interface MinimizeResult {
  readonly x: Float64Array;
  readonly f: number;
  readonly iterations: number;
  readonly evaluations: number;
  readonly converged: boolean;
  readonly reason: 'gradient' | 'objective' | 'max-iterations' | 'line-search' | 'non-finite-start';
}

const C1 = 1e-4;
const C2 = 0.9;
const MAX_LINE_SEARCH = 30;

export class LbfgsbSolver {
  private readonly m: number;
  private readonly s: Float64Array[];
  private readonly y: Float64Array[];
  private readonly rho: Float64Array;
  private readonly alphaK: Float64Array;
  private readonly x: Float64Array;
  private readonly g: Float64Array;
  private readonly d: Float64Array;
  private readonly xt: Float64Array;
  private readonly gt: Float64Array;
  private readonly free: Uint8Array;
  private readonly lower: Float64Array;
  private readonly upper: Float64Array;
  private evaluations = 0;

  constructor(
    readonly n: number,
    memory = 10,
  ) {
    this.m = memory;
    this.s = Array.from({ length: memory }, () => new Float64Array(n));
    this.y = Array.from({ length: memory }, () => new Float64Array(n));
    this.rho = new Float64Array(memory);
    this.alphaK = new Float64Array(memory);
    this.x = new Float64Array(n);
    this.g = new Float64Array(n);
    this.d = new Float64Array(n);
    this.xt = new Float64Array(n);
    this.gt = new Float64Array(n);
    this.free = new Uint8Array(n);
    this.lower = new Float64Array(n);
    this.upper = new Float64Array(n);
  }

  minimize(fn: ObjectiveFn, x0: ArrayLike<number>, options: MinimizeOptions = {}): MinimizeResult {
    const { n, x, g, d, lower, upper, free } = this;
    const maxIterations = options.maxIterations ?? 15000;
    const gtol = options.gtol ?? 1e-5;
    const ftol = options.ftol ?? 2.220446049250313e-9;
    for (let j = 0; j < n; j++) {
      lower[j] = options.lower?.[j] ?? Number.NEGATIVE_INFINITY;
      upper[j] = options.upper?.[j] ?? Number.POSITIVE_INFINITY;
      x[j] = Math.min(upper[j], Math.max(lower[j], x0[j]));
    }
    this.evaluations = 1;
    let f = fn(x, g);
    if (!Number.isFinite(f)) return this.result(f, 0, false, 'non-finite-start');
    let stored = 0; // correction pairs held
    let newest = -1; // ring-buffer index of the newest pair
    for (let iter = 0; iter < maxIterations; iter++) {
      // Projected gradient and the free set.
      let pgNorm = 0;
      for (let j = 0; j < n; j++) {
        const pg = Math.min(upper[j], Math.max(lower[j], x[j] - g[j])) - x[j];
        pgNorm = Math.max(pgNorm, Math.abs(pg));
        free[j] = (x[j] <= lower[j] && g[j] > 0) || (x[j] >= upper[j] && g[j] < 0) ? 0 : 1;
      }
      if (pgNorm <= gtol) return this.result(f, iter, true, 'gradient');

      this.direction(stored, newest);
      let slope = 0;
      for (let j = 0; j < n; j++) slope += d[j] * g[j];
      if (!(slope < 0)) {
        // The curvature memory went bad: restart from steepest descent.
        stored = 0;
        slope = 0;
        for (let j = 0; j < n; j++) {
          d[j] = free[j] ? -g[j] : 0;
          slope += d[j] * g[j];
        }
        if (!(slope < 0)) return this.result(f, iter, true, 'gradient');
      }

      // Largest feasible step along d.
      let stepMax = Number.POSITIVE_INFINITY;
      for (let j = 0; j < n; j++) {
        if (d[j] < 0 && lower[j] > Number.NEGATIVE_INFINITY)
          stepMax = Math.min(stepMax, (lower[j] - x[j]) / d[j]);
        if (d[j] > 0 && upper[j] < Number.POSITIVE_INFINITY)
          stepMax = Math.min(stepMax, (upper[j] - x[j]) / d[j]);
      }
      let dNorm = 0;
      for (let j = 0; j < n; j++) dNorm += d[j] * d[j];
      const first = stored === 0 ? Math.min(1, 1 / Math.sqrt(dNorm)) : 1;
      const step = this.lineSearch(fn, f, slope, Math.min(first, stepMax), stepMax);
      if (step === 0) return this.result(f, iter, false, 'line-search');

      // Accept xt; store the correction pair if it has positive curvature.
      const next = (newest + 1) % this.m;
      const s = this.s[next];
      const y = this.y[next];
      let sy = 0;
      let yy = 0;
      for (let j = 0; j < n; j++) {
        s[j] = this.xt[j] - x[j];
        y[j] = this.gt[j] - g[j];
        sy += s[j] * y[j];
        yy += y[j] * y[j];
      }
      if (sy > 2.220446049250313e-16 * yy) {
        this.rho[next] = 1 / sy;
        newest = next;
        stored = Math.min(stored + 1, this.m);
      }
      const fNew = this.lastF;
      x.set(this.xt);
      g.set(this.gt);
      const decrease = f - fNew;
      f = fNew;
      if (decrease <= ftol * Math.max(Math.abs(f + decrease), Math.abs(f), 1)) {
        return this.result(f, iter + 1, true, 'objective');
      }
    }
    return this.result(f, maxIterations, false, 'max-iterations');
  }

  /** Two-loop recursion on the free variables: d = -H g. */
  private direction(stored: number, newest: number): void {
    const { n, d, g, free, s, y, rho, alphaK, m } = this;
    for (let j = 0; j < n; j++) d[j] = free[j] ? -g[j] : 0;
    for (let k = 0, idx = newest; k < stored; k++, idx = (idx - 1 + m) % m) {
      let a = 0;
      for (let j = 0; j < n; j++) if (free[j]) a += s[idx][j] * d[j];
      a *= rho[idx];
      alphaK[idx] = a;
      for (let j = 0; j < n; j++) if (free[j]) d[j] -= a * y[idx][j];
    }
    if (stored > 0) {
      // Scale by s'y / y'y of the newest pair (the usual initial Hessian guess).
      let yy = 0;
      for (let j = 0; j < n; j++) yy += y[newest][j] * y[newest][j];
      const gamma = 1 / (rho[newest] * yy);
      for (let j = 0; j < n; j++) d[j] *= gamma;
    }
    for (let k = 0, idx = (newest - stored + 1 + m) % m; k < stored; k++, idx = (idx + 1) % m) {
      let b = 0;
      for (let j = 0; j < n; j++) if (free[j]) b += y[idx][j] * d[j];
      b *= rho[idx];
      for (let j = 0; j < n; j++) if (free[j]) d[j] += s[idx][j] * (alphaK[idx] - b);
    }
    for (let j = 0; j < n; j++) if (!free[j]) d[j] = 0;
  }

  private lastF = 0;

  /** phi(t) = f(x + t d); leaves the point in xt/gt and f in lastF; returns its directional derivative. */
  private trial(fn: ObjectiveFn, t: number): number {
    const { n, x, d, xt, gt, lower, upper } = this;
    for (let j = 0; j < n; j++) xt[j] = Math.min(upper[j], Math.max(lower[j], x[j] + t * d[j]));
    this.evaluations++;
    this.lastF = fn(xt, gt);
    let slope = 0;
    for (let j = 0; j < n; j++) slope += gt[j] * d[j];
    return slope;
  }

  /** Strong-Wolfe step in (0, stepMax]; 0 if none was found. On return xt/gt/lastF hold the step. */
  private lineSearch(fn: ObjectiveFn, f0: number, slope0: number, t0: number, stepMax: number): number {
    let tPrev = 0;
    let fPrev = f0;
    let dPrev = slope0;
    let t = t0;
    for (let i = 0; i < MAX_LINE_SEARCH; i++) {
      const dt = this.trial(fn, t);
      const ft = this.lastF;
      if (!Number.isFinite(ft) || ft > f0 + C1 * t * slope0 || (i > 0 && ft >= fPrev)) {
        return this.zoom(fn, f0, slope0, tPrev, fPrev, dPrev, t, ft, dt);
      }
      if (Math.abs(dt) <= -C2 * slope0) return t;
      if (dt >= 0) return this.zoom(fn, f0, slope0, t, ft, dt, tPrev, fPrev, dPrev);
      if (t >= stepMax) return t; // reached a bound with sufficient decrease
      tPrev = t;
      fPrev = ft;
      dPrev = dt;
      t = Math.min(4 * t, stepMax);
    }
    // Still descending after many expansions: take the last point evaluated (it is in xt/gt).
    return fPrev < f0 ? tPrev : 0;
  }

  private zoom(
    fn: ObjectiveFn,
    f0: number,
    slope0: number,
    tLo: number,
    fLo: number,
    dLo: number,
    tHi: number,
    fHi: number,
    dHi: number,
  ): number {
    for (let i = 0; i < MAX_LINE_SEARCH; i++) {
      const t = interpolate(tLo, fLo, dLo, tHi, fHi, dHi);
      const dt = this.trial(fn, t);
      const ft = this.lastF;
      if (!Number.isFinite(ft) || ft > f0 + C1 * t * slope0 || ft >= fLo) {
        tHi = t;
        fHi = ft;
        dHi = dt;
      } else {
        if (Math.abs(dt) <= -C2 * slope0) return t;
        if (dt * (tHi - tLo) >= 0) {
          tHi = tLo;
          fHi = fLo;
          dHi = dLo;
        }
        tLo = t;
        fLo = ft;
        dLo = dt;
      }
      if (Math.abs(tHi - tLo) <= 1e-16 * Math.max(1, Math.abs(tLo))) break;
    }
    // No strong-Wolfe point: settle for the best sufficient-decrease point seen, if any.
    if (tLo > 0 && fLo < f0) {
      this.trial(fn, tLo);
      return tLo;
    }
    return 0;
  }

  private result(f: number, iterations: number, converged: boolean, reason: MinimizeResult['reason']) {
    return { x: Float64Array.from(this.x), f, iterations, evaluations: this.evaluations, converged, reason };
  }
}

/** Minimizer of the cubic through (t, f, f') at both ends, kept inside the middle 80% of the bracket. */
function interpolate(t1: number, f1: number, d1: number, t2: number, f2: number, d2: number): number {
  const lo = Math.min(t1, t2);
  const hi = Math.max(t1, t2);
  const margin = 0.1 * (hi - lo);
  if (Number.isFinite(f2) && Number.isFinite(d2)) {
    const e1 = d1 + d2 - (3 * (f1 - f2)) / (t1 - t2);
    const rad = e1 * e1 - d1 * d2;
    if (rad >= 0) {
      const e2 = Math.sign(t2 - t1) * Math.sqrt(rad);
      const t = t2 - ((t2 - t1) * (d2 + e2 - e1)) / (d2 - d1 + 2 * e2);
      if (Number.isFinite(t)) return Math.min(hi - margin, Math.max(lo + margin, t));
    }
  }
  return 0.5 * (lo + hi);
}

/** One-off convenience wrapper. */
export function minimizeLbfgsb(fn: ObjectiveFn, x0: ArrayLike<number>, options: MinimizeOptions = {}) {
  return new LbfgsbSolver(x0.length, options.memory ?? 10).minimize(fn, x0, options);
}
