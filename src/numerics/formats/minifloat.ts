// Small floating-point formats: OCP FP8 (E4M3, E5M2), OCP MX FP6 (E3M2, E2M3) and FP4 (E2M1), plus IEEE
// fp16 and bf16, all described by exponent bits, mantissa bits, bias and how the top exponent is used.
//
// Value of a code (sign s, exponent field e, mantissa field m):
//   e > 0: (-1)^s * 2^(e - bias) * (1 + m / 2^M)        e = 0: (-1)^s * 2^(1 - bias) * (m / 2^M)  (subnormal)
// Specials, per the OCP 8-bit FP spec (v1.0) and the OCP MX spec (v1.0):
//   'ieee'   (E5M2, fp16, bf16): e all ones -> Inf (m = 0) or NaN (m != 0).
//   'fn'     (E4M3): no Inf; only e and m all ones is NaN, so the largest value is 1.75 * 2^8 = 448.
//   'finite' (E3M2, E2M3, E2M1): every code is a number; no Inf, no NaN.

import { NumericsError } from '../errors.ts';
import { floorLog2, roundHalfEven } from '../round.ts';

export type Specials = 'ieee' | 'fn' | 'finite';

export interface Minifloat {
  readonly name: string;
  readonly exponentBits: number;
  readonly mantissaBits: number;
  readonly bias: number;
  readonly specials: Specials;
  /** Largest finite magnitude. */
  readonly max: number;
  /** Exponent of the smallest normal binade, 1 - bias (subnormals share its spacing). */
  readonly minExponent: number;
  /** Exponent of the largest binade (the OCP MX spec's emax). */
  readonly maxExponent: number;
}

function minifloat(name: string, exponentBits: number, mantissaBits: number, specials: Specials): Minifloat {
  const bias = 2 ** (exponentBits - 1) - 1;
  const topField = 2 ** exponentBits - 1;
  // 'ieee' reserves the whole top binade; 'fn' reserves only its last code (the NaN).
  const maxField = specials === 'ieee' ? topField - 1 : topField;
  const maxMantissa = specials === 'fn' ? 2 ** mantissaBits - 2 : 2 ** mantissaBits - 1;
  const maxExponent = maxField - bias;
  const max = 2 ** maxExponent * (1 + maxMantissa / 2 ** mantissaBits);
  return { name, exponentBits, mantissaBits, bias, specials, max, minExponent: 1 - bias, maxExponent };
}

export const E4M3 = minifloat('fp8_e4m3', 4, 3, 'fn');
export const E5M2 = minifloat('fp8_e5m2', 5, 2, 'ieee');
export const E3M2 = minifloat('fp6_e3m2', 3, 2, 'finite');
export const E2M3 = minifloat('fp6_e2m3', 2, 3, 'finite');
export const E2M1 = minifloat('fp4_e2m1', 2, 1, 'finite');
export const FP16 = minifloat('fp16', 5, 10, 'ieee');
export const BF16 = minifloat('bf16', 8, 7, 'ieee');

/** The OCP element formats, keyed by "e<E>m<M>". */
export const ocpMinifloats: Record<string, Minifloat> = {
  e4m3: E4M3,
  e5m2: E5M2,
  e3m2: E3M2,
  e2m3: E2M3,
  e2m1: E2M1,
};

export function minifloatFor(exponent: number, mantissa: number): Minifloat {
  const f = ocpMinifloats[`e${exponent}m${mantissa}`];
  if (!f) {
    throw new NumericsError(
      'format (exponent, mantissa)',
      `E${exponent}M${mantissa}`,
      'one of E4M3, E5M2, E3M2, E2M3, E2M1',
    );
  }
  return f;
}

/** Spacing of the grid around v (the unit in the last place of v's binade; subnormals share the lowest). */
export function ulpOf(f: Minifloat, v: number): number {
  const a = Math.abs(v);
  const e = a === 0 ? f.minExponent : Math.max(floorLog2(a), f.minExponent);
  return 2 ** (e - f.mantissaBits);
}

/**
 * Rounds v to the nearest representable value, ties to even. Overflow saturates to +-max when `saturate`,
 * otherwise follows the format: Inf for 'ieee', NaN for 'fn' and (having no Inf) saturation for 'finite'.
 */
export function roundMinifloat(f: Minifloat, v: number, saturate = true): number {
  if (Number.isNaN(v)) return v;
  if (!Number.isFinite(v))
    return saturate || f.specials === 'finite'
      ? Math.sign(v) * f.max
      : f.specials === 'ieee'
        ? v
        : Number.NaN;
  const ulp = ulpOf(f, v);
  const q = roundHalfEven(v / ulp) * ulp;
  if (Math.abs(q) <= f.max) return q;
  if (saturate || f.specials === 'finite') return Math.sign(v) * f.max;
  return f.specials === 'ieee' ? Math.sign(v) * Number.POSITIVE_INFINITY : Number.NaN;
}

/** The grid neighbours lo <= v <= hi of a value already clamped to [-max, max] (for stochastic rounding). */
export function minifloatNeighbours(f: Minifloat, v: number): [number, number] {
  const ulp = ulpOf(f, v);
  const lo = Math.floor(v / ulp) * ulp;
  return [lo, lo === v ? lo : lo + ulp];
}

/** Number of bits in a code: sign + exponent + mantissa. */
export function minifloatBits(f: Minifloat): number {
  return 1 + f.exponentBits + f.mantissaBits;
}

/** The value of a code (an unsigned integer below 2^bits). */
export function decodeMinifloat(f: Minifloat, code: number): number {
  const M = f.mantissaBits;
  const E = f.exponentBits;
  if (!Number.isInteger(code) || code < 0 || code >= 2 ** (1 + E + M)) {
    throw new NumericsError('code', code, `an integer in [0, ${2 ** (1 + E + M) - 1}] for ${f.name}`);
  }
  const sign = Math.floor(code / 2 ** (E + M)) === 1 ? -1 : 1;
  const e = Math.floor(code / 2 ** M) % 2 ** E;
  const m = code % 2 ** M;
  const top = 2 ** E - 1;
  if (f.specials === 'ieee' && e === top) return m === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  if (f.specials === 'fn' && e === top && m === 2 ** M - 1) return Number.NaN;
  if (e === 0) return sign * 2 ** f.minExponent * (m / 2 ** M);
  return sign * 2 ** (e - f.bias) * (1 + m / 2 ** M);
}

/**
 * The code of v after rounding (ties to even). NaN maps to the format's canonical NaN (all exponent and
 * mantissa bits set, sign clear); formats without NaN reject it. -0 keeps its sign bit.
 */
export function encodeMinifloat(f: Minifloat, v: number, saturate = true): number {
  const M = f.mantissaBits;
  const E = f.exponentBits;
  const signBit = 2 ** (E + M);
  if (Number.isNaN(v)) {
    if (f.specials === 'finite') throw new NumericsError('value', v, `a number (${f.name} has no NaN)`);
    return 2 ** (E + M) - 1;
  }
  const q = roundMinifloat(f, v, saturate);
  if (Number.isNaN(q)) return 2 ** (E + M) - 1;
  const negative = q < 0 || Object.is(q, -0);
  const a = Math.abs(q);
  let magnitude: number;
  if (a === Number.POSITIVE_INFINITY) magnitude = (2 ** E - 1) * 2 ** M;
  else if (a < 2 ** f.minExponent)
    magnitude = a / 2 ** (f.minExponent - M); // subnormal: e field 0
  else {
    const e = floorLog2(a);
    magnitude = (e + f.bias) * 2 ** M + (a / 2 ** e - 1) * 2 ** M;
  }
  return (negative ? signBit : 0) + magnitude;
}

/** Every finite non-negative value of the format, ascending. */
export function minifloatValues(f: Minifloat): number[] {
  const values: number[] = [];
  for (let code = 0; code < 2 ** (f.exponentBits + f.mantissaBits); code++) {
    const v = decodeMinifloat(f, code);
    if (Number.isFinite(v)) values.push(v);
  }
  return values;
}
