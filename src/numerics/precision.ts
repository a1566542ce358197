// Precision names, the one list shared by run configs, sweep specs, PTQ settings and the CLI: 'fp32' (no
// quantization) and every format that quantSpec builds a complete spec for. Each name has one bit count P,
// the P of the scaling laws: element bits (MX counts its elements, not the shared E8M0 scale), log2(3) for
// ternary, 32 for fp32.
import { NumericsError } from './errors.ts';
import { formatNames, type NumberFormat, parseFormat, quantSpec } from './spec.ts';
import { elementBits } from './storage-bits.ts';

export const FULL_PRECISION = 'fp32';

/** int1 has no default spec (symmetric needs 2 bits): 1-bit training and PTQ use `binary`. */
const usable = (name: string) => name !== 'int1';

/** Every precision name, in the order errors list them. */
export const precisionNames: readonly string[] = [FULL_PRECISION, ...formatNames.filter(usable)];

export interface Precision {
  name: string;
  /** Bits per value: the P of the laws. */
  bits: number;
  /** The numerics format; null for fp32 (no quantization). */
  format: NumberFormat | null;
}

export function isPrecisionName(value: unknown): value is string {
  return typeof value === 'string' && precisionNames.includes(value);
}

/** A precision name to its format and bits; a NumericsError names `field`, the value and every allowed name. */
export function parsePrecision(value: unknown, field = 'precision'): Precision {
  if (!isPrecisionName(value)) throw new NumericsError(field, value, `one of ${precisionNames.join(', ')}`);
  if (value === FULL_PRECISION) return { name: value, bits: 32, format: null };
  const format = parseFormat(value);
  const bits = format.kind === 'ternary' ? Math.log2(3) : elementBits(quantSpec(value));
  return { name: value, bits, format };
}

/** Bits P of a precision name (throws a NumericsError for an unknown name). */
export const precisionBits = (name: string, field = 'precision'): number => parsePrecision(name, field).bits;
