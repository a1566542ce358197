// Deciding with a fitted law.
//  - computeOptimal: the (N*, D*, P*) minimizing predicted loss for a budget, under the cost model
//    C = k N D P / P_ref (k = 6 FLOPs per parameter-token, P_ref = 16 bits: at 16-bit training the
//    budget is the usual 6ND). P sets every training-precision variable of the form (Pw, Pa, Pkv).
//  - precisionCurve: P*(C) over many budgets (the loss-optimal training precision vs budget).
//  - criticalDataSize: the D beyond which more pretraining data raises the loss after PTQ to P_post.
// All by one-dimensional searches (a log-spaced scan, then golden-section refinement), so they work for
// every form, expressions included, not only those with closed forms.

import { LawsInputError, LawsOptionError } from './errors.ts';
import type { FittedLaw, Point } from './predict.ts';
import { LossModel } from './predict.ts';

export interface ComputeOptimalOptions {
  readonly flopsPerParamToken?: number;
  readonly referenceBits?: number;
  /** Training precisions searched, in bits; integer restricts P to whole bits. Default 1..32, continuous. */
  readonly precision?: { readonly min?: number; readonly max?: number; readonly integer?: boolean };
  /** Values for the form's other variables (e.g. Ppost). */
  readonly fixed?: Point;
}

export interface ComputeOptimum {
  readonly compute: number;
  readonly N: number;
  readonly D: number;
  /** Training precision in bits; undefined when the form has no training-precision variable. */
  readonly P?: number;
  readonly loss: number;
}

const TRAIN_PRECISION = ['Pw', 'Pa', 'Pkv'];

export function computeOptimal(
  fit: FittedLaw | LossModel,
  compute: number,
  options: ComputeOptimalOptions = {},
) {
  return precisionCurve(fit, [compute], options)[0];
}

export function precisionCurve(
  fit: FittedLaw | LossModel,
  budgets: readonly number[],
  options: ComputeOptimalOptions = {},
): ComputeOptimum[] {
  const model = fit instanceof LossModel ? fit : new LossModel(fit);
  const k = options.flopsPerParamToken ?? 6;
  const pRef = options.referenceBits ?? 16;
  const pMin = options.precision?.min ?? 1;
  const pMax = options.precision?.max ?? 32;
  if (!(k > 0)) throw new LawsOptionError('flopsPerParamToken', k, 'a number > 0');
  if (!(pRef > 0)) throw new LawsOptionError('referenceBits', pRef, 'a number > 0');
  if (!(pMin > 0 && pMax >= pMin))
    throw new LawsOptionError('precision', options.precision, '0 < min <= max');
  const vars = model.variables;
  if (!vars.includes('N') || !vars.includes('D')) {
    throw new LawsInputError(
      `compute-optimal search needs a form in N and D; this one uses ${vars.join(', ')}`,
    );
  }
  const trainVars = vars.filter((v) => TRAIN_PRECISION.includes(v));
  for (const v of vars) {
    if (v !== 'N' && v !== 'D' && !trainVars.includes(v) && !(options.fixed && v in options.fixed)) {
      throw new LawsInputError(`the form uses '${v}': give its value (fixed.${v})`, undefined, v);
    }
  }

  return budgets.map((compute) => {
    if (!(compute > 0 && Number.isFinite(compute)))
      throw new LawsOptionError('compute', compute, 'a finite number > 0');
    // Best N for a precision P: D follows from the budget.
    const bestForP = (P: number) => {
      const tokensTimesParams = (compute * pRef) / (k * P);
      const lossOfLogN = (logN: Float64Array) => {
        const n = logN.length;
        const columns: Record<string, Float64Array> = {};
        columns.N = logN.map(Math.exp);
        columns.D = columns.N.map((N) => tokensTimesParams / N);
        for (const v of trainVars) columns[v] = new Float64Array(n).fill(P);
        for (const [v, value] of Object.entries(options.fixed ?? {}))
          columns[v] = new Float64Array(n).fill(value);
        return model.lossAt(columns, n);
      };
      // N from 1 to the size that leaves a single token.
      const logN = minimize1d(lossOfLogN, 0, Math.log(tokensTimesParams), 240);
      const N = Math.exp(logN.x);
      return { compute, N, D: tokensTimesParams / N, P, loss: logN.f };
    };
    if (trainVars.length === 0) {
      const { P: _ignored, ...rest } = bestForP(pRef);
      return rest;
    }
    if (options.precision?.integer) {
      let best = bestForP(Math.ceil(pMin));
      for (let P = Math.ceil(pMin) + 1; P <= pMax; P++) {
        const r = bestForP(P);
        if (r.loss < best.loss) best = r;
      }
      return best;
    }
    const p = minimize1d((ps) => ps.map((P) => bestForP(P).loss), pMin, pMax, 63);
    return bestForP(p.x);
  });
}

export interface CriticalDataOptions {
  /** Token range searched; default 1e3 .. 1e18. */
  readonly range?: readonly [number, number];
}

export interface CriticalData {
  /** Tokens where the post-PTQ loss is lowest; Infinity if it still falls at the end of the range. */
  readonly D: number;
  readonly loss: number;
}

/** For a model of N parameters quantized after training to `point.Ppost` bits (other variables in `point`). */
export function criticalDataSize(
  fit: FittedLaw | LossModel,
  point: Point,
  options: CriticalDataOptions = {},
): CriticalData {
  const model = fit instanceof LossModel ? fit : new LossModel(fit);
  if (!model.variables.includes('Ppost') || !model.variables.includes('D')) {
    throw new LawsInputError(
      `critical data size needs a form with D and Ppost (ptq, unified); this one uses ${model.variables.join(', ')}`,
    );
  }
  const [lo, hi] = options.range ?? [1e3, 1e18];
  if (!(lo > 0 && hi > lo)) throw new LawsOptionError('range', options.range, '0 < low < high');
  for (const v of model.variables) {
    if (v !== 'D' && !(v in point))
      throw new LawsInputError(`critical data size needs a value for '${v}'`, undefined, v);
  }
  const lossOfLogD = (logD: Float64Array) => {
    const n = logD.length;
    const columns: Record<string, Float64Array> = { D: logD.map(Math.exp) };
    for (const v of model.variables) if (v !== 'D') columns[v] = new Float64Array(n).fill(point[v]);
    return model.lossAt(columns, n);
  };
  const r = minimize1d(lossOfLogD, Math.log(lo), Math.log(hi), 400);
  const atEnd = r.x >= Math.log(hi) - 1e-9 * Math.abs(Math.log(hi));
  return { D: atEnd ? Number.POSITIVE_INFINITY : Math.exp(r.x), loss: r.f };
}

/**
 * Minimize f on [lo, hi]: evaluate a scan of `count` points (f takes them all at once), then refine
 * around the best by golden-section search between its neighbours.
 */
export function minimize1d(
  f: (xs: Float64Array) => ArrayLike<number>,
  lo: number,
  hi: number,
  count: number,
): { x: number; f: number } {
  const xs = Float64Array.from({ length: count }, (_, i) => lo + ((hi - lo) * i) / (count - 1));
  const fs = f(xs);
  let best = 0;
  for (let i = 1; i < count; i++) if (fs[i] < fs[best] || !Number.isFinite(fs[best])) best = i;
  let a = xs[Math.max(0, best - 1)];
  let b = xs[Math.min(count - 1, best + 1)];
  const one = (x: number) => f(Float64Array.of(x))[0];
  const ratio = (Math.sqrt(5) - 1) / 2;
  let c = b - ratio * (b - a);
  let d = a + ratio * (b - a);
  let fc = one(c);
  let fd = one(d);
  for (let it = 0; it < 80 && b - a > 1e-10 * Math.max(1, Math.abs(a)); it++) {
    if (fc < fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - ratio * (b - a);
      fc = one(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + ratio * (b - a);
      fd = one(d);
    }
  }
  const candidates = [
    { x: xs[best], f: fs[best] },
    { x: c, f: fc },
    { x: d, f: fd },
  ];
  return candidates.reduce((m, r) => (r.f < m.f ? r : m));
}
