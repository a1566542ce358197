// Fit a law the way Epoch AI refitted Chinchilla: Huber loss on log-loss residuals, L-BFGS(-B) with exact
// gradients from every point of a grid of starts, keep the best; bootstrap by resampling points for
// intervals; optionally hold out the largest runs and report the error there.

import type { Dataset } from './dataset.ts';
import type { DesignIssue } from './design.ts';
import { designIssues } from './design.ts';
import { LawsDesignError, LawsInputError, LawsOptionError } from './errors.ts';
import type { Form } from './form.ts';
import { fromInternal, namedParams } from './form.ts';
import { HuberObjective } from './huber.ts';
import { identifiabilityWarnings } from './identifiability.ts';
import type { MinimizeOptions } from './lbfgsb.ts';
import { LbfgsbSolver } from './lbfgsb.ts';
import { profileIntervals } from './profile.ts';
import type { FitQuality } from './quality.ts';
import { fitQuality } from './quality.ts';
import { seededRng } from './rng.ts';
import { startGrid } from './start-grid.ts';

export interface FitOptions {
  /** Huber threshold on log-loss residuals (Epoch: 1e-3). */
  readonly delta?: number;
  /** Replace a parameter's start values (natural units, e.g. { A: [100, 1000] }). */
  readonly starts?: Readonly<Record<string, readonly number[]>>;
  /** Above this many grid points, a seeded random subset of the grid is used. */
  readonly maxStarts?: number;
  /** Bootstrap resamples (0 = none). */
  readonly bootstrap?: number;
  readonly seed?: number;
  /** Hold out the largest runs: a fraction (< 1) or a count (>= 1) of points. */
  readonly holdout?: number;
  /** Column that orders runs by size for the hold-out; default N*D when both exist, else the first variable. */
  readonly holdoutBy?: string;
  readonly optimizer?: Omit<MinimizeOptions, 'lower' | 'upper'>;
  /**
   * A design that cannot separate some parameters (a constant column, D/N fixed): 'refuse' (default)
   * throws a LawsDesignError naming them, so the user ties or fixes them; 'warn' fits and warns.
   */
  readonly design?: 'refuse' | 'warn';
  /** Profile-likelihood 95% intervals next to the bootstrap (one constrained refit per profile point). */
  readonly profile?: boolean;
  /** Called after each start / resample, for progress bars. */
  readonly onProgress?: (stage: 'grid' | 'bootstrap', done: number, total: number) => void;
}

export interface Interval {
  readonly lower: number;
  readonly upper: number;
  /** Standard deviation of the bootstrap estimates. */
  readonly stderr: number;
  /**
   * Why this interval is not a measure of precision: the parameter sits on a bound, or the bootstrap
   * refits never moved it (its spread collapsed; often a parameter stuck at its start).
   */
  readonly flag?: 'at-bound' | 'collapsed';
}

export interface ProfileInterval {
  readonly lower: number;
  readonly upper: number;
  /** Sides the data never close (the interval runs to a bound or without end there). */
  readonly open: readonly ('lower' | 'upper')[];
}

export interface HoldoutReport {
  /** Source rows held out. */
  readonly rows: readonly number[];
  /** Root mean square of log(pred) - log(observed) on the held-out points. */
  readonly rmseLog: number;
  /** Mean and max of |pred / observed - 1|. */
  readonly meanRelativeError: number;
  readonly maxRelativeError: number;
}

export interface FitResult {
  readonly form: Form['spec'];
  readonly formula: string;
  /** Fitted values in natural units (A, not a = log A). */
  readonly params: Record<string, number>;
  /** The optimizer's vector (log space where the parameter is). */
  readonly internal: number[];
  /** Sum of weighted Huber losses at the optimum. */
  readonly objective: number;
  readonly delta: number;
  readonly points: number;
  readonly starts: { readonly total: number; readonly converged: number };
  /** log(pred) - log(observed) for every point, in input order (held-out points included). */
  readonly residuals: number[];
  readonly intervals?: Record<string, Interval>;
  /** Internal vectors of the bootstrap fits: predict() turns them into prediction intervals. */
  readonly bootstrap?: { readonly seed: number; readonly samples: number[][] };
  readonly holdout?: HoldoutReport;
  /** Profile-likelihood 95% intervals (natural units), when asked for. */
  readonly profile?: Record<string, ProfileInterval>;
  /** Residual spread against the data's spread; describes = false means the form misses the data. */
  readonly quality: FitQuality;
  /** What the design cannot separate (only warnings here: refusals throw). */
  readonly design: DesignIssue[];
  /** The measured range [min, max] of each variable over the training points: decisions outside it extrapolate. */
  readonly ranges: Record<string, readonly [number, number]>;
  readonly warnings: string[];
}

export function fitLaw(form: Form, data: Dataset, options: FitOptions = {}): FitResult {
  const delta = options.delta ?? 1e-3;
  if (!(delta > 0 && Number.isFinite(delta)))
    throw new LawsOptionError('delta', delta, 'a finite number > 0');
  const bootstrapCount = options.bootstrap ?? 0;
  if (!(Number.isInteger(bootstrapCount) && bootstrapCount >= 0)) {
    throw new LawsOptionError('bootstrap', bootstrapCount, 'a whole number >= 0');
  }
  const seed = options.seed ?? 0;
  const p = form.params.length;
  const columns = form.variables.map((v) => {
    const col = data.columns[v];
    if (!col) throw new LawsInputError(`the form needs column '${v}', which the data lacks`, undefined, v);
    return col;
  });
  const weights = new Float64Array(data.n).fill(1);
  const heldOut = holdoutIndices(data, form, options.holdout, options.holdoutBy);
  for (const i of heldOut) weights[i] = 0;
  const training = data.n - heldOut.length;
  if (training < p) {
    throw new LawsInputError(
      `${training} points to fit ${p} free parameters (${form.params.map((q) => q.name).join(', ')}): need at least ${p}`,
    );
  }

  const design = designIssues(form, columns, weights);
  const blocking = design.filter((d) => d.kind !== 'nearly-collinear');
  if (blocking.length > 0 && (options.design ?? 'refuse') === 'refuse') {
    throw new LawsDesignError(
      `the design cannot identify this form: ${blocking.map((d) => d.message).join('; ')}. ` +
        'Tie or fix those parameters (e.g. --tie alpha,beta, --fix gamma_w=2.5), vary the columns independently, ' +
        "or fit anyway with design: 'warn' (--allow-collinear)",
      [...new Set(blocking.flatMap((d) => d.variables))],
      [...new Set(blocking.flatMap((d) => d.params))],
    );
  }

  const objective = new HuberObjective(form.bind(columns, data.n), data.loss, p, weights, delta);
  // The optimizer sees the objective per unit of delta * weight, so its absolute tolerances (gtol,
  // ftol) mean the same thing whatever delta and the number of points: sums of Huber with delta 1e-3
  // are ~1e-3, where SciPy's default gtol would stop bootstrap refits before they move.
  const scale = 1 / (delta * training);
  const fn = (x: Float64Array, g: Float64Array) => {
    const f = objective.evaluate(x, g);
    for (let j = 0; j < p; j++) g[j] *= scale;
    return f * scale;
  };
  const solver = new LbfgsbSolver(p, options.optimizer?.memory ?? 10);
  const bounds = {
    ...options.optimizer,
    lower: form.params.map((q) => q.lower),
    upper: form.params.map((q) => q.upper),
  };

  // Multi-start: every grid point (or a seeded subset), keep the best.
  const grid = startGrid(form, options.starts, options.maxStarts ?? 20000, seed);
  let best: { x: Float64Array; f: number } = { x: new Float64Array(p), f: Number.POSITIVE_INFINITY };
  let converged = 0;
  const x0 = new Float64Array(p);
  for (let s = 0; s < grid.count; s++) {
    grid.fill(s, x0);
    const r = solver.minimize(fn, x0, bounds);
    if (r.converged) converged++;
    if (r.f < best.f) best = r;
    options.onProgress?.('grid', s + 1, grid.count);
  }
  if (!Number.isFinite(best.f)) {
    throw new LawsInputError(
      `no start gave a finite objective: the form '${form.formula}' is undefined on this data`,
    );
  }
  // Polish the winner with tight tolerances. Near a Huber optimum with a small delta the objective is
  // almost piecewise linear along long valleys (A trades against alpha), where SciPy-like tolerances
  // stop early; bootstrap refits need the tight ones to move off the full-data optimum at all.
  const tight = { ...bounds, ftol: 1e-13, gtol: 1e-10, ...options.optimizer };
  const polished = solver.minimize(fn, best.x, tight);
  if (polished.f <= best.f) best = polished;
  const theta = best.x;
  const params = namedParams(form, theta);
  const warnings = [
    ...design.map((d) => `design: ${d.message}`),
    ...identifiabilityWarnings(form, columns, data.n, weights, theta),
  ];
  const atBound = form.params.map((q, j) => theta[j] <= q.lower || theta[j] >= q.upper);

  // Bootstrap: resample training points with replacement (as multiplicities), refit from the optimum.
  let intervals: Record<string, Interval> | undefined;
  let bootstrap: FitResult['bootstrap'];
  if (bootstrapCount > 0) {
    const rng = seededRng(seed + 1);
    const trainIdx = [...Array(data.n).keys()].filter((i) => weights[i] > 0);
    const samples: number[][] = [];
    for (let b = 0; b < bootstrapCount; b++) {
      objective.weights.fill(0);
      for (let k = 0; k < training; k++) objective.weights[trainIdx[rng.int(training)]] += 1;
      const r = solver.minimize(fn, theta, tight);
      if (Number.isFinite(r.f)) samples.push(Array.from(r.x));
      options.onProgress?.('bootstrap', b + 1, bootstrapCount);
    }
    objective.weights.set(weights);
    intervals = bootstrapIntervals(form, samples, theta, atBound);
    bootstrap = { seed, samples };
    for (const q of form.params) {
      const iv = intervals[q.name];
      if (iv.flag === 'collapsed') {
        warnings.push(
          `${q.name}: the bootstrap never moved it from ${fmt(params[q.name])}; its interval says nothing about its precision (see the profile interval)`,
        );
      } else if (iv.upper - iv.lower > Math.abs(params[q.name])) {
        warnings.push(
          `${q.name} is poorly identified: its 95% bootstrap interval [${fmt(iv.lower)}, ${fmt(iv.upper)}] is wider than its value ${fmt(params[q.name])}`,
        );
      }
    }
  }
  form.params.forEach((q, j) => {
    if (atBound[j]) {
      warnings.push(
        `${q.name} = ${fmt(params[q.name])} sits on its bound; the data push it further and its bootstrap interval is not a measure of precision`,
      );
    }
  });

  let profile: Record<string, ProfileInterval> | undefined;
  if (options.profile) {
    const squares = new HuberObjective(form.bind(columns, data.n), data.loss, p, weights, 1e300);
    const found = profileIntervals(
      (x, g) => squares.evaluate(x, g),
      training,
      theta,
      bounds.lower,
      bounds.upper,
    );
    profile = Object.fromEntries(
      form.params.map((q, j) => [
        q.name,
        {
          lower: fromInternal(q, found[j].lower),
          upper: fromInternal(q, found[j].upper),
          open: found[j].open,
        },
      ]),
    );
  }

  const residuals = Array.from(objective.residuals(theta));
  const quality = fitQuality(residuals, data.loss, weights);
  if (!quality.describes) {
    warnings.push(
      `the form does not describe the data: mean |log residual| ${(100 * quality.meanAbsLog).toFixed(1)}%, ` +
        `residual spread ${fmt(quality.rmsLog)} against the data's ${fmt(quality.spreadLog)} (R² ${fmt(quality.r2)})`,
    );
  }
  const ranges = Object.fromEntries(
    form.variables.map((v, k) => {
      let lo = Number.POSITIVE_INFINITY;
      let hi = Number.NEGATIVE_INFINITY;
      columns[k].forEach((x, i) => {
        if (weights[i] > 0) {
          lo = Math.min(lo, x);
          hi = Math.max(hi, x);
        }
      });
      return [v, [lo, hi] as const];
    }),
  );
  return {
    form: form.spec,
    formula: form.formula,
    params,
    internal: Array.from(theta),
    objective: best.f / scale,
    delta,
    points: training,
    starts: { total: grid.count, converged },
    residuals,
    ...(intervals && { intervals, bootstrap }),
    ...(heldOut.length > 0 && { holdout: holdoutReport(data, heldOut, residuals) }),
    ...(profile && { profile }),
    quality,
    design,
    ranges,
    warnings,
  };
}

function holdoutIndices(
  data: Dataset,
  form: Form,
  holdout: number | undefined,
  by: string | undefined,
): number[] {
  if (holdout === undefined || holdout === 0) return [];
  if (!(holdout > 0 && (holdout < 1 || Number.isInteger(holdout)) && holdout < data.n)) {
    throw new LawsOptionError(
      'holdout',
      holdout,
      `a fraction in (0, 1) or a whole count below ${data.n} points`,
    );
  }
  const count = holdout < 1 ? Math.max(1, Math.round(holdout * data.n)) : holdout;
  const size = runSize(data, form, by);
  const order = [...Array(data.n).keys()].sort((i, j) => size[i] - size[j] || i - j);
  return order.slice(data.n - count);
}

function runSize(data: Dataset, form: Form, by: string | undefined): Float64Array {
  if (by !== undefined) {
    const col = data.columns[by];
    if (!col)
      throw new LawsOptionError(
        'holdoutBy',
        by,
        `a column of the data: ${Object.keys(data.columns).join(', ')}`,
      );
    return col;
  }
  const { N, D } = data.columns;
  if (N && D) return N.map((n, i) => n * D[i]);
  return data.columns[form.variables[0]];
}

function holdoutReport(
  data: Dataset,
  heldOut: readonly number[],
  residuals: readonly number[],
): HoldoutReport {
  const r = heldOut.map((i) => residuals[i]);
  const rel = r.map((v) => Math.abs(Math.exp(v) - 1));
  return {
    rows: heldOut.map((i) => data.rows[i]),
    rmseLog: Math.sqrt(r.reduce((s, v) => s + v * v, 0) / r.length),
    meanRelativeError: rel.reduce((s, v) => s + v, 0) / rel.length,
    maxRelativeError: Math.max(...rel),
  };
}

function bootstrapIntervals(
  form: Form,
  samples: readonly number[][],
  theta: Float64Array,
  atBound: readonly boolean[],
): Record<string, Interval> {
  const out: Record<string, Interval> = {};
  form.params.forEach((q, j) => {
    // Spread in internal space, relative to the value: a resampled fit that never leaves the optimum.
    const moved = samples.some((s) => Math.abs(s[j] - theta[j]) > 1e-7 * Math.max(1, Math.abs(theta[j])));
    const values = samples.map((s) => fromInternal(q, s[j])).sort((a, b) => a - b);
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / Math.max(1, values.length - 1);
    out[q.name] = {
      lower: quantile(values, 0.025),
      upper: quantile(values, 0.975),
      stderr: Math.sqrt(variance),
      ...(atBound[j]
        ? { flag: 'at-bound' as const }
        : !moved && samples.length > 1
          ? { flag: 'collapsed' as const }
          : {}),
    };
  });
  return out;
}

/** Linear-interpolated quantile of sorted values (numpy's default). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

function fmt(v: number): string {
  return Number(v.toPrecision(4)).toString();
}
