// E8M0, the shared scale of the OCP MX formats: an 8-bit unsigned biased exponent, value 2^(code - 127)
// for codes 0..254 (2^-127 .. 2^127), code 255 = NaN. No sign, no zero, no mantissa.

import { NumericsError } from '../errors.ts';

export const E8M0_BIAS = 127;
export const E8M0_NAN = 0xff;

export function decodeE8m0(code: number): number {
  if (!Number.isInteger(code) || code < 0 || code > 255) {
    throw new NumericsError('code', code, 'an integer in [0, 255] (E8M0)');
  }
  return code === E8M0_NAN ? Number.NaN : 2 ** (code - E8M0_BIAS);
}

/** The code of a power-of-two exponent, clamped to the representable [-127, 127]. */
export function e8m0FromExponent(exponent: number): number {
  return Math.min(Math.max(exponent, -E8M0_BIAS), E8M0_BIAS) + E8M0_BIAS;
}
