// The float law's other decision (Sun et al. 2025 report it as the optimal exponent-mantissa ratio): for a
// budget of P bits per value (1 sign + E + M), which split minimizes the predicted loss at N, D and block B.
// Every split with E >= 1 and M >= 0 is evaluated; the law is smooth, so there is nothing to search.

import { LawsInputError, LawsOptionError } from './errors.ts';
import type { FittedLaw } from './predict.ts';
import { LossModel } from './predict.ts';

export interface FloatSplit {
  readonly E: number;
  readonly M: number;
  readonly loss: number;
}

export interface FloatSplitAnswer extends FloatSplit {
  /** Every split of the bits, best first. */
  readonly splits: readonly FloatSplit[];
}

export function bestFloatSplit(
  fit: FittedLaw | LossModel,
  point: { readonly bits: number; readonly N: number; readonly D: number; readonly B?: number },
): FloatSplitAnswer {
  const model = fit instanceof LossModel ? fit : new LossModel(fit);
  if (model.form.spec.kind !== 'float') {
    throw new LawsInputError(
      `the exponent-mantissa split needs a float fit (--form float); this one is '${model.form.spec.kind}'`,
    );
  }
  const { bits } = point;
  if (!(Number.isInteger(bits) && bits >= 2 && bits <= 64))
    throw new LawsOptionError('bits', bits, 'a whole number of bits per value, 2..64 (sign + E + M)');
  const block = model.variables.includes('B');
  if (block && point.B === undefined)
    throw new LawsInputError('the float law with block size needs a value for B', undefined, 'B');
  const count = bits - 1; // E = 1 .. bits - 1, M = bits - 1 - E
  const E = Float64Array.from({ length: count }, (_, i) => i + 1);
  const columns: Record<string, Float64Array> = {
    N: new Float64Array(count).fill(point.N),
    D: new Float64Array(count).fill(point.D),
    E,
    M: E.map((e) => bits - 1 - e),
    ...(block && { B: new Float64Array(count).fill(point.B as number) }),
  };
  const loss = model.lossAt(columns, count);
  const splits = Array.from(E, (e, i) => ({ E: e, M: bits - 1 - e, loss: loss[i] })).sort(
    (a, b) => a.loss - b.loss,
  );
  return { ...splits[0], splits };
}
