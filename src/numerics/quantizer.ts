// One group of values and its quantizer: the grid a spec rounds onto, the scale (and zero point) chosen
// for a group, and the quantize-dequantize of one value. fake-quant, RTN and GPTQ are all built on this.
//
// For one group with scale s and zero point z (z = 0 unless asymmetric int):
//   v = x * (1 / s) + z                   scaled value
//   inside = lo <= v <= hi                the clipping range in grid units (the clipped STE's mask)
//   q = round(clamp(v, lo, hi))           onto the grid, nearest-even or stochastic
//   x' = (q - z) * s                      dequantized
// Native kernels repeat these exact double-precision operations, so both give the same bits.

import { NumericsError } from './errors.ts';
import { e8m0FromExponent } from './formats/e8m0.ts';
import { type Grid, integerGrid, minifloatGrid, nf4Grid } from './formats/grid.ts';
import { BF16, FP16, minifloatFor } from './formats/minifloat.ts';
import { floorLog2, roundStochastic } from './round.ts';
import type { FakeQuantSpec } from './spec.ts';

/** Step of the OCP MXINT8 element: two's complement int8 with an implicit scale of 2^-6. */
const MXINT8_STEP = 2 ** -6;
/** MSE search: candidate bounds absmax * (1 - k / MSE_GRID) for k = 0..MSE_STEPS. */
export const MSE_GRID = 100;
export const MSE_STEPS = 80;

export interface Quantizer {
  readonly spec: FakeQuantSpec;
  readonly grid: Grid;
  /** Lowest and highest grid value (asymmetric int: 0 and 2^bits - 1). */
  readonly lo: number;
  readonly hi: number;
  /** bf16/fp16: no clamp, overflow becomes Inf as in an IEEE cast. */
  readonly ieeeCast: boolean;
  /** MX: the binade exponent of the element's largest value (OCP emax); null otherwise. */
  readonly mxEmax: number | null;
}

export interface GroupParams {
  scale: number;
  zero: number;
}

const binaryGrid: Grid = {
  max: 1,
  nearest: (v) => (v >= 0 ? 1 : -1),
  neighbours: (v) => (v === 1 || v === -1 ? [v, v] : [-1, 1]),
};

export function quantizerFor(spec: FakeQuantSpec): Quantizer {
  const f = spec.format;
  const base = { spec, ieeeCast: false, mxEmax: null };
  switch (f.kind) {
    case 'int': {
      if (!spec.symmetric) return { ...base, grid: integerGrid(2 ** f.bits - 1), lo: 0, hi: 2 ** f.bits - 1 };
      const max = 2 ** (f.bits - 1) - 1;
      return { ...base, grid: integerGrid(max), lo: -max, hi: max };
    }
    case 'fp': {
      const grid = minifloatGrid(minifloatFor(f.exponent, f.mantissa));
      return { ...base, grid, lo: -grid.max, hi: grid.max };
    }
    case 'mx': {
      const e = f.element;
      if (e.kind === 'int')
        return {
          ...base,
          grid: integerGrid(127 * MXINT8_STEP, MXINT8_STEP),
          lo: -127 * MXINT8_STEP,
          hi: 127 * MXINT8_STEP,
          mxEmax: 0,
        };
      const mf = minifloatFor(e.exponent, e.mantissa);
      return { ...base, grid: minifloatGrid(mf), lo: -mf.max, hi: mf.max, mxEmax: mf.maxExponent };
    }
    case 'nf4':
      return { ...base, grid: nf4Grid, lo: -1, hi: 1 };
    case 'ternary':
      return { ...base, grid: integerGrid(1), lo: -1, hi: 1 };
    case 'binary':
      return { ...base, grid: binaryGrid, lo: -1, hi: 1 };
    case 'bf16':
    case 'fp16': {
      const mf = f.kind === 'bf16' ? BF16 : FP16;
      return {
        ...base,
        grid: minifloatGrid(mf, false),
        lo: Number.NEGATIVE_INFINITY,
        hi: Number.POSITIVE_INFINITY,
        ieeeCast: true,
      };
    }
  }
}

/** Quantize-dequantize one value; u is the uniform draw for stochastic rounding (ignored when nearest). */
export function quantizeValue(
  qz: Quantizer,
  p: GroupParams,
  x: number,
  u: number,
  stochastic: boolean,
): number {
  let v = x * (1 / p.scale) + p.zero;
  if (v < qz.lo) v = qz.lo;
  else if (v > qz.hi) v = qz.hi;
  let q: number;
  if (stochastic) {
    const [lo, hi] = qz.grid.neighbours(v);
    q = roundStochastic(v, lo, hi, u);
  } else q = qz.grid.nearest(v);
  if (qz.ieeeCast && Math.abs(q) > qz.grid.max)
    q = q > 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  return (q - p.zero) * p.scale + 0; // + 0 turns -0 into 0, so q(q(x)) == q(x) holds bit for bit
}

/** Whether x lies inside the clipping range of its group (1) or is clipped (0). */
export function insideRange(qz: Quantizer, p: GroupParams, x: number): boolean {
  const v = x * (1 / p.scale) + p.zero;
  if (qz.ieeeCast) return Math.abs(qz.grid.nearest(v)) <= qz.grid.max;
  return v >= qz.lo && v <= qz.hi;
}

/** The scale (and zero point) of one group of n values (a contiguous copy). */
export function chooseParams(qz: Quantizer, values: Float64Array, n: number): GroupParams {
  const method = qz.spec.scale;
  if (method.kind === 'none') return { scale: 1, zero: 0 };
  if (qz.mxEmax !== null) {
    const absmax = maxAbs(values, n);
    const exponent = absmax === 0 ? -127 : floorLog2(absmax) - qz.mxEmax;
    return { scale: 2 ** (e8m0FromExponent(exponent) - 127), zero: 0 };
  }
  if (qz.spec.symmetric) {
    const absmax = maxAbs(values, n);
    let c: number;
    switch (method.kind) {
      case 'absmax':
        c = absmax;
        break;
      case 'absmean': {
        let sum = 0;
        for (let i = 0; i < n; i++) sum += Math.abs(values[i]);
        c = n > 0 ? sum / n : 0;
        break;
      }
      case 'percentile': {
        const sorted = Float64Array.from(values.subarray(0, n), Math.abs).sort();
        c = n > 0 ? sorted[percentileRank(method.p, n)] : 0;
        break;
      }
      case 'mse':
        return searchMse(qz, values, n, (factor) => symmetricParams(qz, absmax * factor));
    }
    if (!(c > 0)) c = absmax; // e.g. a low percentile of mostly zeros
    return symmetricParams(qz, c);
  }
  // Asymmetric int: the range always contains 0, so zero stays exact.
  let lo = 0;
  let hi = 0;
  if (method.kind === 'percentile' && n > 0) {
    const sorted = Float64Array.from(values.subarray(0, n)).sort();
    const rank = percentileRank(method.p, n);
    lo = Math.min(sorted[n - 1 - rank], 0);
    hi = Math.max(sorted[rank], 0);
  } else {
    for (let i = 0; i < n; i++) {
      if (values[i] < lo) lo = values[i];
      if (values[i] > hi) hi = values[i];
    }
  }
  if (method.kind === 'mse')
    return searchMse(qz, values, n, (factor) => asymmetricParams(qz, lo * factor, hi * factor));
  if (method.kind !== 'absmax' && method.kind !== 'percentile') {
    throw new NumericsError('scale', method.kind, 'absmax, percentile, mse or none for asymmetric int');
  }
  return asymmetricParams(qz, lo, hi);
}

/** Nearest-rank percentile: the index into ascending order of the p-th percentile of n values. */
export function percentileRank(p: number, n: number): number {
  return Math.max(Math.ceil((p / 100) * n), 1) - 1;
}

function maxAbs(values: Float64Array, n: number): number {
  let m = 0;
  for (let i = 0; i < n; i++) {
    const a = Math.abs(values[i]);
    if (a > m) m = a;
  }
  return m;
}

function symmetricParams(qz: Quantizer, c: number): GroupParams {
  const scale = c / qz.grid.max;
  return { scale: scale > 0 && Number.isFinite(1 / scale) ? scale : 1, zero: 0 };
}

function asymmetricParams(qz: Quantizer, lo: number, hi: number): GroupParams {
  let scale = (hi - lo) / qz.hi;
  if (!(scale > 0 && Number.isFinite(1 / scale))) scale = 1;
  const zero = qz.grid.nearest(-lo / scale);
  return { scale, zero: Math.min(Math.max(zero, 0), qz.hi) };
}

function searchMse(
  qz: Quantizer,
  values: Float64Array,
  n: number,
  paramsAt: (factor: number) => GroupParams,
): GroupParams {
  let best = paramsAt(1);
  let bestError = Number.POSITIVE_INFINITY;
  for (let k = 0; k <= MSE_STEPS; k++) {
    const p = paramsAt(1 - k / MSE_GRID);
    let error = 0;
    for (let i = 0; i < n; i++) {
      const d = quantizeValue(qz, p, values[i], 0, false) - values[i];
      error += d * d;
    }
    if (error < bestError) {
      bestError = error;
      best = p;
    }
  }
  return best;
}
