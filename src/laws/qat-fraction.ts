// The decision of the two-phase law (forms/two-phase.ts): what fraction f of the training tokens to spend on
// quantization-aware training, for a model of N parameters trained on D tokens, or for a compute budget
// C = k N D (QAT tokens cost as much as full-precision ones here; k = 6 by default). By one-dimensional
// searches over the fitted law (log f in [1e-4, 1]; log N over the budget), like optimize.ts.

import { LawsInputError, LawsOptionError } from './errors.ts';
import { quantile } from './fit.ts';
import type { Extrapolation } from './optimize.ts';
import { minimize1d } from './optimize.ts';
import type { FittedLaw } from './predict.ts';
import { LossModel } from './predict.ts';

export interface QatFraction {
  readonly N: number;
  readonly D: number;
  /** The loss-optimal QAT fraction of the D tokens. */
  readonly f: number;
  readonly loss: number;
  /** Variables outside the ranges the fit measured (absent when the fit has no ranges). */
  readonly extrapolated?: readonly Extrapolation[];
}

const F_MIN = 1e-4;

function modelOf(fit: FittedLaw | LossModel): LossModel {
  const model = fit instanceof LossModel ? fit : new LossModel(fit);
  if (model.form.spec.kind !== 'two-phase') {
    throw new LawsInputError(
      `the optimal QAT fraction needs a two-phase fit (--form two-phase); this one is '${model.form.spec.kind}'`,
    );
  }
  return model;
}

function bestF(model: LossModel, N: number, D: number): { f: number; loss: number } {
  const lossOfLogF = (logF: Float64Array) => {
    const n = logF.length;
    return model.lossAt(
      { N: new Float64Array(n).fill(N), D: new Float64Array(n).fill(D), f: logF.map(Math.exp) },
      n,
    );
  };
  const r = minimize1d(lossOfLogF, Math.log(F_MIN), 0, 121);
  return { f: Math.exp(r.x), loss: r.f };
}

function marked(model: LossModel, answer: Omit<QatFraction, 'extrapolated'>): QatFraction {
  const ranges = model.fit.ranges;
  if (!ranges) return answer;
  const extrapolated: Extrapolation[] = [];
  for (const v of ['N', 'D', 'f'] as const) {
    const r = ranges[v];
    const value = answer[v];
    if (r && (value < r[0] * (1 - 1e-9) || value > r[1] * (1 + 1e-9)))
      extrapolated.push({ variable: v, value, range: r });
  }
  return { ...answer, extrapolated };
}

/** f* for N parameters trained on D tokens in all. */
export function optimalQatFraction(fit: FittedLaw | LossModel, point: { N: number; D: number }): QatFraction {
  const model = modelOf(fit);
  for (const v of ['N', 'D'] as const) {
    if (!(point[v] > 0 && Number.isFinite(point[v])))
      throw new LawsOptionError(v, point[v], 'a finite number > 0');
  }
  return marked(model, { N: point.N, D: point.D, ...bestF(model, point.N, point.D) });
}

/** (N*, D*, f*) for a budget of `compute` FLOPs, C = k N D; with `N` given, only D and f are chosen. */
export function qatComputeOptimal(
  fit: FittedLaw | LossModel,
  compute: number,
  options: { flopsPerParamToken?: number; N?: number } = {},
): QatFraction {
  const model = modelOf(fit);
  const k = options.flopsPerParamToken ?? 6;
  if (!(compute > 0 && Number.isFinite(compute)))
    throw new LawsOptionError('compute', compute, 'a finite number > 0');
  if (!(k > 0)) throw new LawsOptionError('flopsPerParamToken', k, 'a number > 0');
  const product = compute / k; // N D
  if (options.N !== undefined) return optimalQatFraction(model, { N: options.N, D: product / options.N });
  const lossOfLogN = (logN: Float64Array) =>
    logN.map((x) => bestF(model, Math.exp(x), product / Math.exp(x)).loss);
  const r = minimize1d(lossOfLogN, 0, Math.log(product), 121);
  const N = Math.exp(r.x);
  return marked(model, { N, D: product / N, ...bestF(model, N, product / N) });
}

/** What to decide: f* at (N, D), or (N*, D*, f*) for a compute budget. */
export type QatQuestion =
  | { readonly N: number; readonly D: number }
  | { readonly compute: number; readonly N?: number; readonly flopsPerParamToken?: number };

/**
 * The 95% range of f* (and N*) over the fit's bootstrap refits (at most `maxSamples` of them): the same
 * decision at each resample's parameters. Undefined when the fit has no bootstrap.
 */
export function qatFractionInterval(
  fit: FittedLaw,
  question: QatQuestion,
  maxSamples = 50,
): { f: readonly [number, number]; N: readonly [number, number] } | undefined {
  const samples = fit.bootstrap?.samples ?? [];
  if (samples.length === 0) return undefined;
  const step = Math.max(1, Math.floor(samples.length / maxSamples));
  const answers = samples
    .filter((_, i) => i % step === 0)
    .map((internal) => {
      const refit = { form: fit.form, internal };
      return 'compute' in question
        ? qatComputeOptimal(refit, question.compute, question)
        : optimalQatFraction(refit, question);
    });
  const range = (xs: number[]) => {
    const sorted = xs.filter(Number.isFinite).sort((a, b) => a - b);
    return [quantile(sorted, 0.025), quantile(sorted, 0.975)] as const;
  };
  return { f: range(answers.map((a) => a.f)), N: range(answers.map((a) => a.N)) };
}
