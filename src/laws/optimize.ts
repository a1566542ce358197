// Deciding with a fitted law.
//  - computeOptimal: the (N*, D*, P*) minimizing predicted loss for a budget under a cost model (cost.ts):
//    all-parts compute (C = 6 N D P / 16), weights-only memory (M = N P_w at a given D), or hardware time
//    with a throughput per format. Each answer states its cost model, marks every variable outside the
//    range the fit measured, and gives the best answer with the precision kept inside that range.
//    A fit that cannot decide the question (weights-only runs asked about all parts) raises
//    LawsUndecidedError instead of answering.
//  - precisionCurve: the same over many budgets (P* against compute).
//  - criticalDataSize: the D beyond which more pretraining data raises the loss after PTQ to P_post (or, for
//    the float and qat laws, in training at that format / group size).
// All by one-dimensional searches (a log-spaced scan, then golden-section refinement), so they work for
// every form, expressions included, not only those with closed forms.

import type { CostModel } from './cost.ts';
import { describeCost, FORMAT_BITS, throughputOf, throughputTable } from './cost.ts';
import { LawsInputError, LawsOptionError, LawsUndecidedError } from './errors.ts';
import { quantile } from './fit.ts';
import type { FittedLaw, Point } from './predict.ts';
import { LossModel } from './predict.ts';

export interface ComputeOptimalOptions {
  /** Default: all-parts compute with the two numbers below. */
  readonly cost?: CostModel;
  readonly flopsPerParamToken?: number;
  readonly referenceBits?: number;
  /** Training precisions searched, in bits; integer restricts P to whole bits. Default 1..32, continuous. */
  readonly precision?: { readonly min?: number; readonly max?: number; readonly integer?: boolean };
  /** Values for the form's other variables (e.g. Ppost; D for the memory model). */
  readonly fixed?: Point;
}

/** A variable of an answer outside what the fit measured. */
export interface Extrapolation {
  readonly variable: string;
  readonly value: number;
  readonly range: readonly [number, number];
}

export interface Answer {
  readonly N: number;
  readonly D: number;
  /** Training precision in bits; undefined when the form has no training-precision variable. */
  readonly P?: number;
  /** hardware cost model: the number format chosen. */
  readonly format?: string;
  readonly loss: number;
}

export interface ComputeOptimum extends Answer {
  /** The budget: FLOPs (compute, hardware) or bits of weights (memory). */
  readonly compute: number;
  /** The cost model, in words. */
  readonly cost: string;
  /** Variables outside the fit's measured ranges (empty when inside; absent when the fit has no ranges). */
  readonly extrapolated?: readonly Extrapolation[];
  /** When P* lies outside the measured precisions: the best answer with P inside them. */
  readonly inside?: Answer;
}

const TRAIN_PRECISION = ['Pw', 'Pa', 'Pkv'];

export function computeOptimal(
  fit: FittedLaw | LossModel,
  compute: number,
  options: ComputeOptimalOptions = {},
): ComputeOptimum {
  return precisionCurve(fit, [compute], options)[0];
}

/** Why this fit cannot answer the question under this cost model, or undefined when it can. */
export function undecidable(
  fit: FittedLaw | LossModel,
  options: ComputeOptimalOptions = {},
): string | undefined {
  const model = fit instanceof LossModel ? fit : new LossModel(fit);
  const cost = costOf(options);
  const trainVars = model.variables.filter((v) => TRAIN_PRECISION.includes(v));
  if (cost.name === 'memory') {
    return trainVars.includes('Pw')
      ? undefined
      : `the weights-only memory question needs a law in the weight precision Pw; this one uses ${model.variables.join(', ')}`;
  }
  if (trainVars.length === 0) return undefined; // N and D only: the classic compute-optimal question.
  const missing = TRAIN_PRECISION.filter((v) => !trainVars.includes(v));
  if (missing.length === 0) return undefined;
  return (
    `the fit's runs varied only ${trainVars.join(', ')}; the ${cost.name} cost model trains every part ` +
    `(weights, activations, KV cache) at P, and these runs do not measure what ${missing.join(', ')} at P does to the loss. ` +
    'The grid cannot decide the all-parts optimum: ask the weights-only memory question (--cost memory --D <tokens>), ' +
    'or train runs that quantize activations and KV cache too'
  );
}

export function precisionCurve(
  fit: FittedLaw | LossModel,
  budgets: readonly number[],
  options: ComputeOptimalOptions = {},
): ComputeOptimum[] {
  const model = fit instanceof LossModel ? fit : new LossModel(fit);
  // A fit file read back from JSON has null for an unbounded end (Infinity does not survive JSON).
  const ranges = model.fit.ranges
    ? Object.fromEntries(
        Object.entries(model.fit.ranges).map(([v, [lo, hi]]) => [
          v,
          [lo ?? 0, hi ?? Number.POSITIVE_INFINITY] as const,
        ]),
      )
    : undefined;
  const cost = costOf(options);
  const pMin = options.precision?.min ?? 1;
  const pMax = options.precision?.max ?? 32;
  if (!(pMin > 0 && pMax >= pMin))
    throw new LawsOptionError('precision', options.precision, '0 < min <= max');
  const vars = model.variables;
  if (!vars.includes('N') || !vars.includes('D')) {
    throw new LawsInputError(
      `compute-optimal search needs a form in N and D; this one uses ${vars.join(', ')}`,
    );
  }
  const why = undecidable(model, options);
  if (why) throw new LawsUndecidedError(why);
  const trainVars = vars.filter((v) => TRAIN_PRECISION.includes(v));
  // The memory model chooses the weights' precision only; the others must be given.
  const chosen = cost.name === 'memory' ? ['Pw'] : trainVars;
  for (const v of vars) {
    if (v !== 'N' && v !== 'D' && !chosen.includes(v) && !(options.fixed && v in options.fixed)) {
      throw new LawsInputError(`the form uses '${v}': give its value (fixed.${v}, --${v})`, undefined, v);
    }
  }
  const fixedD = options.fixed?.D;
  if (cost.name === 'memory' && !(fixedD !== undefined && fixedD > 0)) {
    throw new LawsOptionError('fixed.D', fixedD, 'the training tokens D for the memory cost model (--D)');
  }
  const description = describeCost(cost);
  const k = cost.flopsPerParamToken ?? 6;
  const pRef = cost.referenceBits ?? 16;

  const lossAt = (N: Float64Array, D: Float64Array, P: number) => {
    const n = N.length;
    const columns: Record<string, Float64Array> = { N, D };
    for (const [v, value] of Object.entries(options.fixed ?? {}))
      columns[v] = new Float64Array(n).fill(value);
    for (const v of chosen) columns[v] = new Float64Array(n).fill(P);
    return model.lossAt(columns, n);
  };
  /** Best N for a precision P (and format), D following from the budget. */
  const bestFor = (budget: number, P: number, format?: string): Answer => {
    if (cost.name === 'memory') {
      const N = budget / P;
      const D = fixedD as number;
      return { N, D, P, loss: lossAt(Float64Array.of(N), Float64Array.of(D), P)[0] };
    }
    const product =
      cost.name === 'hardware'
        ? (budget * throughputOf(cost, format as string)) / 6
        : (budget * pRef) / (k * P);
    const lossOfLogN = (logN: Float64Array) => {
      const N = logN.map(Math.exp);
      return lossAt(
        N,
        N.map((x) => product / x),
        P,
      );
    };
    // N from 1 to the size that leaves a single token.
    const r = minimize1d(lossOfLogN, 0, Math.log(product), 240);
    const N = Math.exp(r.x);
    return {
      N,
      D: product / N,
      ...(trainVars.length > 0 || cost.name !== 'compute' ? { P } : {}),
      ...(format ? { format } : {}),
      loss: r.f,
    };
  };
  const search = (budget: number, lo: number, hi: number): Answer => {
    if (cost.name === 'hardware') {
      const formats = Object.keys(throughputTable(cost)).filter(
        (f) => FORMAT_BITS[f] >= lo && FORMAT_BITS[f] <= hi,
      );
      if (formats.length === 0)
        throw new LawsOptionError(
          'precision',
          { min: lo, max: hi },
          'a range holding a format of the throughput table',
        );
      return formats
        .map((f) => bestFor(budget, FORMAT_BITS[f], f))
        .reduce((a, b) => (b.loss < a.loss ? b : a));
    }
    if (trainVars.length === 0) return bestFor(budget, pRef);
    // A law fitted per format (efficiency) knows only its formats: search those.
    const levels = (model.form.spec.options?.levels as (number | null)[] | undefined)?.filter(
      (l): l is number => l !== null && Number.isFinite(l) && l >= lo && l <= hi,
    );
    if (model.form.spec.kind === 'efficiency') {
      if (!levels || levels.length === 0) {
        throw new LawsOptionError(
          'precision',
          { min: lo, max: hi },
          'a range holding a format of the efficiency law',
        );
      }
      return levels.map((P) => bestFor(budget, P)).reduce((a, b) => (b.loss < a.loss ? b : a));
    }
    if (options.precision?.integer) {
      let best = bestFor(budget, Math.ceil(lo));
      for (let P = Math.ceil(lo) + 1; P <= hi; P++) {
        const r = bestFor(budget, P);
        if (r.loss < best.loss) best = r;
      }
      return best;
    }
    const p = minimize1d((ps) => ps.map((P) => bestFor(budget, P).loss), lo, hi, 63);
    return bestFor(budget, p.x);
  };
  // The precisions the fit measured: every chosen variable must be inside its range.
  const measuredP = ranges
    ? chosen.reduce<[number, number]>(
        (acc, v) => {
          const r = ranges[v];
          return r ? [Math.max(acc[0], r[0]), Math.min(acc[1], r[1])] : acc;
        },
        [0, Number.POSITIVE_INFINITY],
      )
    : undefined;

  return budgets.map((compute) => {
    if (!(compute > 0 && Number.isFinite(compute)))
      throw new LawsOptionError('compute', compute, 'a finite number > 0');
    const answer = search(compute, pMin, pMax);
    if (!ranges) return { compute, cost: description, ...answer };
    const extrapolated = outside(answer, ranges, chosen);
    let inside: Answer | undefined;
    if (answer.P !== undefined && measuredP && extrapolated.some((e) => chosen.includes(e.variable))) {
      const lo = Math.max(pMin, measuredP[0]);
      const hi = Math.min(pMax, measuredP[1]);
      if (lo <= hi) inside = search(compute, lo, hi);
    }
    return { compute, cost: description, ...answer, extrapolated, ...(inside && { inside }) };
  });
}

/**
 * The 95% interval of P* (and N*) over the fit's bootstrap refits: the same search at each resample's
 * parameters (at most `maxSamples` of them). Undefined when the fit has no bootstrap.
 */
export function optimumInterval(
  fit: FittedLaw,
  compute: number,
  options: ComputeOptimalOptions = {},
  maxSamples = 50,
): { P?: readonly [number, number]; N: readonly [number, number] } | undefined {
  const samples = fit.bootstrap?.samples ?? [];
  if (samples.length === 0) return undefined;
  const step = Math.max(1, Math.floor(samples.length / maxSamples));
  const answers = samples
    .filter((_, i) => i % step === 0)
    .map((internal) => computeOptimal({ form: fit.form, internal }, compute, options));
  const range = (xs: number[]) => {
    const sorted = xs.filter(Number.isFinite).sort((a, b) => a - b);
    return [quantile(sorted, 0.025), quantile(sorted, 0.975)] as const;
  };
  const Ps = answers.flatMap((a) => (a.P === undefined ? [] : [a.P]));
  return { ...(Ps.length > 0 && { P: range(Ps) }), N: range(answers.map((a) => a.N)) };
}

function outside(
  answer: Answer,
  ranges: Readonly<Record<string, readonly [number, number]>>,
  chosen: readonly string[],
): Extrapolation[] {
  const values: [string, number | undefined][] = [
    ['N', answer.N],
    ['D', answer.D],
    ...chosen.map((v): [string, number | undefined] => [v, answer.P]),
  ];
  const out: Extrapolation[] = [];
  for (const [variable, value] of values) {
    const range = ranges[variable];
    if (value === undefined || !range) continue;
    if (value < range[0] * (1 - 1e-9) || value > range[1] * (1 + 1e-9)) out.push({ variable, value, range });
  }
  return out;
}

function costOf(options: ComputeOptimalOptions): CostModel {
  const cost = options.cost ?? {
    name: 'compute',
    flopsPerParamToken: options.flopsPerParamToken,
    referenceBits: options.referenceBits,
  };
  if (!['compute', 'memory', 'hardware'].includes(cost.name))
    throw new LawsOptionError('cost', cost.name, 'compute, memory or hardware');
  const k = cost.flopsPerParamToken ?? 6;
  const pRef = cost.referenceBits ?? 16;
  if (!(k > 0)) throw new LawsOptionError('flopsPerParamToken', k, 'a number > 0');
  if (!(pRef > 0)) throw new LawsOptionError('referenceBits', pRef, 'a number > 0');
  if (cost.name === 'hardware') throughputTable(cost);
  return cost;
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

/**
 * For a model of N parameters quantized after training to `point.Ppost` bits, or trained in the format / group
 * size of `point` (float: E, M, B; qat: G); other variables in `point`.
 */
export function criticalDataSize(
  fit: FittedLaw | LossModel,
  point: Point,
  options: CriticalDataOptions = {},
): CriticalData {
  const model = fit instanceof LossModel ? fit : new LossModel(fit);
  // Laws where more data can hurt: PTQ to Ppost (Kumar), the float format penalty (Sun), the QAT error (Chen).
  const dataCanHurt = model.variables.includes('Ppost') || ['float', 'qat'].includes(model.form.spec.kind);
  if (!dataCanHurt || !model.variables.includes('D')) {
    throw new LawsInputError(
      `critical data size needs a form with D and Ppost (ptq, unified), or a float or qat law; this one uses ${model.variables.join(', ')}`,
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
