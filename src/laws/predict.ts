// Predicted loss from a fit, with a bootstrap interval: the law evaluated at the fitted parameters
// and at every bootstrap refit; the interval is the 2.5% / 97.5% quantiles of the latter.

import { isPrecisionVariable, mayBeZero } from './dataset.ts';
import { LawsInputError } from './errors.ts';
import { quantile } from './fit.ts';
import type { Form, FormSpec } from './form.ts';
import { formFromSpec } from './forms/registry.ts';

/** What prediction needs from a fit (a FitResult or the JSON of one). */
export interface FittedLaw {
  readonly form: FormSpec;
  readonly internal: readonly number[];
  readonly bootstrap?: { readonly samples: readonly (readonly number[])[] };
  /** Measured range of each variable (fits since the diagnostics): decisions outside it extrapolate. */
  readonly ranges?: Readonly<Record<string, readonly [number, number]>>;
}

export type Point = Readonly<Record<string, number>>;

export interface Prediction {
  readonly loss: number;
  /** 95% bootstrap interval; absent when the fit has no bootstrap. */
  readonly lower?: number;
  readonly upper?: number;
}

export class LossModel {
  readonly form: Form;
  private readonly theta: Float64Array;

  constructor(readonly fit: FittedLaw) {
    this.form = formFromSpec(fit.form);
    if (fit.internal.length !== this.form.params.length) {
      throw new LawsInputError(
        `the fit has ${fit.internal.length} parameter values but its form has ${this.form.params.length}`,
      );
    }
    this.theta = Float64Array.from(fit.internal);
  }

  get variables(): readonly string[] {
    return this.form.variables;
  }

  /** Loss at points given column-wise (one array per form variable), at theta (default: the fit). */
  lossAt(
    columns: Readonly<Record<string, Float64Array>>,
    n: number,
    theta: Float64Array = this.theta,
  ): Float64Array {
    const cols = this.form.variables.map((v) => {
      const col = columns[v];
      if (!col)
        throw new LawsInputError(
          `prediction needs '${v}' (the form uses ${this.form.variables.join(', ')})`,
          undefined,
          v,
        );
      return col;
    });
    const out = new Float64Array(n);
    this.form.bind(cols, n).logPredict(theta, out);
    return out.map(Math.exp);
  }

  predict(points: readonly Point[]): Prediction[] {
    const columns: Record<string, Float64Array> = {};
    for (const v of this.form.variables) {
      columns[v] = Float64Array.from(points, (pt, i) => {
        const value = pt[v];
        const ok =
          (value > 0 || (mayBeZero(v) && value === 0)) &&
          (Number.isFinite(value) || (isPrecisionVariable(v) && value === Number.POSITIVE_INFINITY));
        if (!ok) {
          throw new LawsInputError(
            `point ${i + 1}: ${v} = ${value} must be a positive number${isPrecisionVariable(v) ? ' or inf' : ''}`,
            i + 1,
            v,
          );
        }
        return value;
      });
    }
    const best = this.lossAt(columns, points.length);
    const samples = this.fit.bootstrap?.samples ?? [];
    if (samples.length === 0) return Array.from(best, (loss) => ({ loss }));
    const draws = samples.map((s) => this.lossAt(columns, points.length, Float64Array.from(s)));
    return Array.from(best, (loss, i) => {
      const values = draws
        .map((d) => d[i])
        .filter(Number.isFinite)
        .sort((a, b) => a - b);
      return { loss, lower: quantile(values, 0.025), upper: quantile(values, 0.975) };
    });
  }
}

export function predictLoss(fit: FittedLaw, points: readonly Point[]): Prediction[] {
  return new LossModel(fit).predict(points);
}
