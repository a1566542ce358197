// The fitting objective: sum_i w_i * Huber_delta(logPred_i - logLoss_i), with its exact gradient.
// Huber as in scipy.special.huber (what Epoch used): r^2/2 inside |r| <= delta, delta (|r| - delta/2) outside.
// Weights are per-point multiplicities: 1 for a plain fit, bootstrap counts for a resample, 0 to hold out.

import type { BoundForm } from './form.ts';

export function huber(r: number, delta: number): number {
  const a = Math.abs(r);
  return a <= delta ? 0.5 * r * r : delta * (a - 0.5 * delta);
}

export class HuberObjective {
  readonly p: number;
  private readonly pred: Float64Array;
  private readonly jac: Float64Array;
  private readonly logLoss: Float64Array;

  constructor(
    private readonly bound: BoundForm,
    loss: Float64Array,
    p: number,
    readonly weights: Float64Array,
    readonly delta: number,
  ) {
    this.p = p;
    this.pred = new Float64Array(bound.n);
    this.jac = new Float64Array(bound.n * p);
    this.logLoss = loss.map(Math.log);
  }

  /** Objective at theta; writes the gradient into `grad`. Returns Infinity where the form is undefined. */
  evaluate(theta: Float64Array, grad: Float64Array): number {
    const { p, pred, jac, logLoss, weights, delta } = this;
    const n = this.bound.n;
    this.bound.logPredict(theta, pred, jac);
    grad.fill(0);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const w = weights[i];
      if (w === 0) continue;
      const r = pred[i] - logLoss[i];
      const a = Math.abs(r);
      let slope: number;
      if (a <= delta) {
        total += w * 0.5 * r * r;
        slope = w * r;
      } else {
        total += w * delta * (a - 0.5 * delta);
        slope = r > 0 ? w * delta : -w * delta;
      }
      const k = i * p;
      for (let j = 0; j < p; j++) grad[j] += slope * jac[k + j];
    }
    return Number.isFinite(total) ? total : Number.POSITIVE_INFINITY;
  }

  /** log(pred) - log(observed) at every point (held-out points included). */
  residuals(theta: Float64Array): Float64Array {
    this.bound.logPredict(theta, this.pred);
    return this.pred.map((v, i) => v - this.logLoss[i]);
  }
}
