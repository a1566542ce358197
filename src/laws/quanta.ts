// The quantization model of neural scaling (Michaud et al., arXiv 2303.13506): if quanta are used with
// Zipf frequencies p_k ∝ k^-(alpha+1), loss falls as N^-alpha in parameters and as
// D^-alpha/(alpha+1) in data (and in steps).

import { LawsOptionError } from './errors.ts';

export interface QuantaExponents {
  /** Zipf exponent of quanta frequencies, alpha + 1. */
  readonly zipf: number;
  readonly alphaN: number;
  readonly alphaD: number;
}

/** Exponents implied by the quanta model's alpha (Zipf exponent minus one). */
export function quantaExponents(alpha: number): QuantaExponents {
  if (!(alpha > 0 && Number.isFinite(alpha)))
    throw new LawsOptionError('alpha', alpha, 'a finite number > 0');
  return { zipf: alpha + 1, alphaN: alpha, alphaD: alpha / (alpha + 1) };
}

/** From a measured parameter-scaling exponent (L ∝ N^-alphaN). */
export function quantaFromParamExponent(alphaN: number): QuantaExponents {
  return quantaExponents(alphaN);
}

/** From a measured data-scaling exponent (L ∝ D^-alphaD), which must be in (0, 1). */
export function quantaFromDataExponent(alphaD: number): QuantaExponents {
  if (!(alphaD > 0 && alphaD < 1)) throw new LawsOptionError('alphaD', alphaD, 'a number in (0, 1)');
  return quantaExponents(alphaD / (1 - alphaD));
}
