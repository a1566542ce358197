// Zipf task frequencies: task i (1-based rank) is drawn with probability ∝ i^-exponent, where the quanta
// model's exponent is alpha + 1. With finitely many tasks any exponent > 0 normalizes; with infinitely
// many the sum converges only for exponent > 1.

import { integerIn, numberAbove, QuantaConfigError } from './errors.ts';

/** Probabilities p_1..p_nTasks ∝ i^-exponent (index 0 is rank 1). nTasks = Infinity is refused here. */
export function zipfProbabilities(nTasks: number, exponent: number): Float64Array {
  checkZipf(nTasks, exponent);
  if (!Number.isFinite(nTasks)) {
    throw new QuantaConfigError('task.nTasks', nTasks, 'a finite count to list probabilities for');
  }
  const p = new Float64Array(nTasks);
  let total = 0;
  for (let i = 0; i < nTasks; i++) total += p[i] = (i + 1) ** -exponent;
  for (let i = 0; i < nTasks; i++) p[i] /= total;
  return p;
}

/** Validates a Zipf law: nTasks a positive integer or Infinity; exponent > 1 when infinite, > 0 otherwise. */
export function checkZipf(nTasks: number, exponent: number): void {
  if (nTasks !== Number.POSITIVE_INFINITY) integerIn('task.nTasks', nTasks, 1);
  if (!Number.isFinite(nTasks)) {
    if (!(typeof exponent === 'number' && exponent > 1 && Number.isFinite(exponent))) {
      throw new QuantaConfigError(
        'task.zipfExponent',
        exponent,
        'a number > 1 when nTasks is infinite (the frequencies i^-exponent must sum to a finite total)',
      );
    }
  } else numberAbove('task.zipfExponent', exponent, 0);
}

/** Draws ranks (0-based) from a discrete distribution by inverse CDF and binary search. */
export class CategoricalSampler {
  private readonly cdf: Float64Array;

  constructor(probabilities: Float64Array) {
    this.cdf = new Float64Array(probabilities.length);
    let acc = 0;
    probabilities.forEach((p, i) => {
      acc += p;
      this.cdf[i] = acc;
    });
    this.cdf[this.cdf.length - 1] = Number.POSITIVE_INFINITY; // rounding never pushes u past the end
  }

  /** The category of a uniform u in [0, 1). */
  draw(u: number): number {
    let lo = 0;
    let hi = this.cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (u < this.cdf[mid]) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
