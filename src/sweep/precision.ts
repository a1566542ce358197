// Precision strings of a sweep spec ('fp32', 'bf16', 'int4', 'fp8_e4m3', ...) and the bit count P that
// the scaling laws use for each. The number format itself belongs to numerics; here we only name it.

import type { NumberFormat } from '../numerics/spec.ts';

export interface Precision {
  /** The string as written in the spec, normalized to lower case. */
  name: string;
  /** Bits per value: the P of the laws. */
  bits: number;
  /** The numerics format; null means full precision (fp32, no quantization). */
  format: NumberFormat | null;
}

const named: Record<string, Precision> = {
  fp32: { name: 'fp32', bits: 32, format: null },
  bf16: { name: 'bf16', bits: 16, format: { kind: 'bf16' } },
  fp16: { name: 'fp16', bits: 16, format: { kind: 'fp16' } },
  nf4: { name: 'nf4', bits: 4, format: { kind: 'nf4' } },
  ternary: { name: 'ternary', bits: Math.log2(3), format: { kind: 'ternary' } },
  binary: { name: 'binary', bits: 1, format: { kind: 'binary' } },
};

export const precisionHelp =
  'fp32, bf16, fp16, int1..int8, fpN_eXmY (e.g. fp8_e4m3, fp8_e5m2, fp6_e3m2, fp4_e2m1; N = 1+X+Y), nf4, ternary, binary';

/** Parses a precision string; returns null when it names no known format. */
export function parsePrecision(text: string): Precision | null {
  const name = text.trim().toLowerCase();
  if (named[name]) return named[name];
  const int = /^int([1-8])$/.exec(name);
  if (int) return { name, bits: Number(int[1]), format: { kind: 'int', bits: Number(int[1]) } };
  const fp = /^fp(\d+)_e(\d+)m(\d+)$/.exec(name);
  if (fp) {
    const [bits, exponent, mantissa] = [Number(fp[1]), Number(fp[2]), Number(fp[3])];
    if (bits === 1 + exponent + mantissa && exponent >= 1 && bits <= 16) {
      return { name, bits, format: { kind: 'fp', exponent, mantissa } };
    }
  }
  return null;
}
