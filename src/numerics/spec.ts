// What "P bits" means for one tensor: the number format, how scales are shared, how values round.
// Owned by numerics; backends receive it whole in their fakeQuant kernel (native ones as
// encodeFakeQuantSpec's Float64Array).

import { NumericsError } from './errors.ts';

/** An element format of an OCP MX block format. */
export type MxElement = { kind: 'fp'; exponent: number; mantissa: number } | { kind: 'int'; bits: 8 };

/** A number format a tensor can be quantized to. */
export type NumberFormat =
  | { kind: 'int'; bits: number } // integer grid, 1..8 bits (symmetric needs >= 2)
  | { kind: 'fp'; exponent: number; mantissa: number } // OCP E4M3, E5M2, E3M2, E2M3, E2M1
  | { kind: 'nf4' }
  | { kind: 'ternary' } // {-1, 0, +1} x scale (BitNet b1.58: absmean)
  | { kind: 'binary' } // sign x mean |x| (BitNet b1 / XNOR); sign(0) = +1
  | { kind: 'bf16' }
  | { kind: 'fp16' }
  // OCP MX: blocks of blockSize elements along a row share one E8M0 scale 2^(floor(log2 absmax) - emax).
  | { kind: 'mx'; element: MxElement; blockSize: number };

/** Which elements share one scale, for a tensor viewed as (rows, cols). */
export type Granularity =
  | { kind: 'tensor' }
  | { kind: 'row' } // one scale per row: per output channel of an (out, in) weight, per token of activations
  | { kind: 'col' } // one scale per column: per input channel
  | { kind: 'group'; size: number }; // contiguous groups of `size` along each row (size divides cols)

/**
 * How the clipping bound c of a group is chosen; the scale is c / (grid max).
 * - absmax: c = max |x| (asymmetric: the range [min(x, 0), max(x, 0)]).
 * - percentile: c = the p-th percentile of |x| by nearest rank (asymmetric: the (100-p)-th and p-th of x).
 * - mse: c = absmax * (1 - k/100) for k = 0..80, the one with the least squared error (first on ties).
 * - absmean: c = mean |x| (ternary and binary only, as in BitNet).
 * - none: scale 1, a plain cast onto the grid (bf16/fp16 always; fp8 casts).
 */
export type ScaleMethod =
  | { kind: 'absmax' }
  | { kind: 'percentile'; p: number }
  | { kind: 'mse' }
  | { kind: 'absmean' }
  | { kind: 'none' };

/** Stochastic rounding draws uniform(seed, offset + flat index) from the Philox stream of src/tensor/philox.ts. */
export type Rounding = { kind: 'nearest' } | { kind: 'stochastic'; seed: number; offset: number };

export interface FakeQuantSpec {
  format: NumberFormat;
  /** Integer formats only: false adds a zero point (asymmetric, unsigned range 0..2^bits-1). */
  symmetric: boolean;
  granularity: Granularity;
  scale: ScaleMethod;
  rounding: Rounding;
}

// ---- names ---------------------------------------------------------------------------------------

const fpNames: Record<string, { exponent: number; mantissa: number }> = {
  fp8_e4m3: { exponent: 4, mantissa: 3 },
  fp8_e5m2: { exponent: 5, mantissa: 2 },
  fp6_e3m2: { exponent: 3, mantissa: 2 },
  fp6_e2m3: { exponent: 2, mantissa: 3 },
  fp4_e2m1: { exponent: 2, mantissa: 1 },
};

const mxNames: Record<string, MxElement> = {
  mxfp8_e4m3: { kind: 'fp', exponent: 4, mantissa: 3 },
  mxfp8_e5m2: { kind: 'fp', exponent: 5, mantissa: 2 },
  mxfp6_e3m2: { kind: 'fp', exponent: 3, mantissa: 2 },
  mxfp6_e2m3: { kind: 'fp', exponent: 2, mantissa: 3 },
  mxfp4: { kind: 'fp', exponent: 2, mantissa: 1 },
  mxint8: { kind: 'int', bits: 8 },
};

/** Every name parseFormat accepts. */
export const formatNames: readonly string[] = [
  ...[1, 2, 3, 4, 5, 6, 7, 8].map((b) => `int${b}`),
  ...Object.keys(fpNames),
  'nf4',
  'ternary',
  'binary',
  'bf16',
  'fp16',
  ...Object.keys(mxNames),
];

/** MX block size fixed by the OCP MX spec v1.0. */
export const MX_BLOCK_SIZE = 32;

/** 'int4', 'fp8_e4m3', 'nf4', 'mxfp4', 'ternary', ... -> a NumberFormat. */
export function parseFormat(name: string): NumberFormat {
  if (typeof name !== 'string') throw new NumericsError('format', name, `one of ${formatNames.join(', ')}`);
  const int = /^int([1-8])$/.exec(name);
  if (int) return { kind: 'int', bits: Number(int[1]) };
  // Own keys only: 'constructor' or 'toString' must not find Object.prototype's members.
  if (Object.hasOwn(fpNames, name)) return { kind: 'fp', ...fpNames[name] };
  if (Object.hasOwn(mxNames, name)) return { kind: 'mx', element: mxNames[name], blockSize: MX_BLOCK_SIZE };
  if (name === 'nf4' || name === 'ternary' || name === 'binary' || name === 'bf16' || name === 'fp16') {
    return { kind: name };
  }
  throw new NumericsError('format', name, `one of ${formatNames.join(', ')}`);
}

/** The inverse of parseFormat. */
export function formatName(format: NumberFormat): string {
  switch (format.kind) {
    case 'int':
      return `int${format.bits}`;
    case 'fp':
      return `fp${1 + format.exponent + format.mantissa}_e${format.exponent}m${format.mantissa}`;
    case 'mx': {
      const e = format.element;
      if (e.kind === 'int') return 'mxint8';
      return e.exponent === 2 && e.mantissa === 1
        ? 'mxfp4'
        : `mxfp${1 + e.exponent + e.mantissa}_e${e.exponent}m${e.mantissa}`;
    }
    default:
      return format.kind;
  }
}

/**
 * A complete spec from a format name with the usual choices: symmetric, nearest rounding; scales per
 * tensor by absmax, except absmean for ternary/binary, none for bf16/fp16, groups of 64 for NF4 (QLoRA)
 * and of 32 for MX. Fields in `overrides` replace the defaults; the result is validated.
 */
export function quantSpec(name: string, overrides: Partial<FakeQuantSpec> = {}): FakeQuantSpec {
  const format = parseFormat(name);
  const granularity: Granularity =
    format.kind === 'mx'
      ? { kind: 'group', size: format.blockSize }
      : format.kind === 'nf4'
        ? { kind: 'group', size: 64 }
        : { kind: 'tensor' };
  const scale: ScaleMethod =
    format.kind === 'ternary' || format.kind === 'binary'
      ? { kind: 'absmean' }
      : format.kind === 'bf16' || format.kind === 'fp16'
        ? { kind: 'none' }
        : { kind: 'absmax' };
  const spec: FakeQuantSpec = {
    format,
    symmetric: true,
    granularity,
    scale,
    rounding: { kind: 'nearest' },
    ...overrides,
  };
  validateSpec(spec);
  return spec;
}

// ---- validation ----------------------------------------------------------------------------------

function isOcpFloat(exponent: number, mantissa: number): boolean {
  return Object.values(fpNames).some((f) => f.exponent === exponent && f.mantissa === mantissa);
}

/** Throws a NumericsError naming the field unless the spec is usable (and fits (rows, cols) when given). */
export function validateSpec(spec: FakeQuantSpec, rows?: number, cols?: number): void {
  const f = spec.format;
  switch (f.kind) {
    case 'int':
      if (!Number.isInteger(f.bits) || f.bits < 1 || f.bits > 8) {
        throw new NumericsError('format.bits', f.bits, 'an integer in [1, 8]');
      }
      if (spec.symmetric && f.bits < 2) {
        throw new NumericsError(
          'format.bits',
          f.bits,
          'an integer in [2, 8] when symmetric (1 bit: asymmetric, or format binary)',
        );
      }
      break;
    case 'fp':
      if (!isOcpFloat(f.exponent, f.mantissa)) {
        throw new NumericsError(
          'format (exponent, mantissa)',
          `E${f.exponent}M${f.mantissa}`,
          'one of E4M3, E5M2, E3M2, E2M3, E2M1',
        );
      }
      break;
    case 'mx': {
      const e = f.element;
      const ok = e.kind === 'int' ? e.bits === 8 : isOcpFloat(e.exponent, e.mantissa);
      if (!ok) throw new NumericsError('format.element', e, 'fp E4M3, E5M2, E3M2, E2M3, E2M1 or int 8');
      if (f.blockSize !== MX_BLOCK_SIZE)
        throw new NumericsError('format.blockSize', f.blockSize, `${MX_BLOCK_SIZE} (OCP MX v1.0)`);
      if (spec.granularity.kind !== 'group' || spec.granularity.size !== f.blockSize) {
        throw new NumericsError(
          'granularity',
          spec.granularity,
          `{ kind: 'group', size: ${f.blockSize} } for MX formats`,
        );
      }
      if (spec.scale.kind !== 'absmax')
        throw new NumericsError('scale', spec.scale, "{ kind: 'absmax' } for MX formats (E8M0 from absmax)");
      break;
    }
    case 'nf4':
    case 'ternary':
    case 'binary':
    case 'bf16':
    case 'fp16':
      break;
    default:
      throw new NumericsError(
        'format.kind',
        (f as { kind: unknown }).kind,
        `one of int, fp, nf4, ternary, binary, bf16, fp16, mx`,
      );
  }
  if (!spec.symmetric && f.kind !== 'int') {
    throw new NumericsError(
      'symmetric',
      spec.symmetric,
      `true for ${f.kind} formats (zero points exist for int only)`,
    );
  }

  const g = spec.granularity;
  if (!['tensor', 'row', 'col', 'group'].includes(g.kind)) {
    throw new NumericsError('granularity.kind', g.kind, 'one of tensor, row, col, group');
  }
  if (g.kind === 'group') {
    if (!Number.isInteger(g.size) || g.size < 1)
      throw new NumericsError('granularity.size', g.size, 'a positive integer');
    if (cols !== undefined && cols % g.size !== 0) {
      throw new NumericsError('granularity.size', g.size, `a divisor of cols = ${cols}`);
    }
  }

  const s = spec.scale;
  switch (s.kind) {
    case 'absmax':
    case 'mse':
    case 'none':
      break;
    case 'percentile':
      if (!(s.p > 0 && s.p <= 100)) throw new NumericsError('scale.p', s.p, 'a percentile in (0, 100]');
      break;
    case 'absmean':
      if (f.kind !== 'ternary' && f.kind !== 'binary') {
        throw new NumericsError(
          'scale',
          s.kind,
          `absmax, percentile, mse or none for ${f.kind} (absmean is for ternary and binary)`,
        );
      }
      break;
    default:
      throw new NumericsError(
        'scale.kind',
        (s as { kind: unknown }).kind,
        'one of absmax, percentile, mse, absmean, none',
      );
  }
  if ((f.kind === 'bf16' || f.kind === 'fp16') && s.kind !== 'none') {
    throw new NumericsError('scale', s.kind, `none for ${f.kind} (a plain rounding cast)`);
  }
  if (f.kind === 'binary' && s.kind !== 'absmean') {
    throw new NumericsError(
      'scale',
      s.kind,
      'absmean for binary (mean |x| is the least-squares scale of sign(x))',
    );
  }

  const r = spec.rounding;
  if (r.kind === 'stochastic') {
    for (const key of ['seed', 'offset'] as const) {
      if (!Number.isSafeInteger(r[key]) || r[key] < 0) {
        throw new NumericsError(`rounding.${key}`, r[key], 'a non-negative safe integer');
      }
    }
  } else if (r.kind !== 'nearest') {
    throw new NumericsError('rounding.kind', (r as { kind: unknown }).kind, 'nearest or stochastic');
  }

  if (rows !== undefined && !(Number.isInteger(rows) && rows >= 0))
    throw new NumericsError('rows', rows, 'a non-negative integer');
  if (cols !== undefined && !(Number.isInteger(cols) && cols >= 0))
    throw new NumericsError('cols', cols, 'a non-negative integer');
}

// ---- numeric encoding for native kernels -------------------------------------------------------------

/** Slot of each field in encodeFakeQuantSpec's array; native/cpu/fake_quant.cc decodes the same layout. */
export const SpecSlot = {
  version: 0,
  format: 1, // FormatCode
  bits: 2, // int bits; MX int element bits
  exponent: 3, // fp / MX fp element
  mantissa: 4,
  blockSize: 5, // MX
  symmetric: 6, // 1 or 0
  granularity: 7, // GranularityCode
  groupSize: 8,
  scale: 9, // ScaleCode
  percentile: 10,
  rounding: 11, // 0 nearest, 1 stochastic
  seed: 12,
  offset: 13,
  length: 14,
} as const;

export const SPEC_ENCODING_VERSION = 1;
export const FormatCode = { int: 0, fp: 1, nf4: 2, ternary: 3, binary: 4, bf16: 5, fp16: 6, mx: 7 } as const;
export const GranularityCode = { tensor: 0, row: 1, col: 2, group: 3 } as const;
export const ScaleCode = { absmax: 0, percentile: 1, mse: 2, absmean: 3, none: 4 } as const;

export function encodeFakeQuantSpec(spec: FakeQuantSpec): Float64Array {
  validateSpec(spec);
  const e = new Float64Array(SpecSlot.length);
  const f = spec.format;
  e[SpecSlot.version] = SPEC_ENCODING_VERSION;
  e[SpecSlot.format] = FormatCode[f.kind];
  if (f.kind === 'int') e[SpecSlot.bits] = f.bits;
  if (f.kind === 'fp') {
    e[SpecSlot.exponent] = f.exponent;
    e[SpecSlot.mantissa] = f.mantissa;
  }
  if (f.kind === 'mx') {
    e[SpecSlot.blockSize] = f.blockSize;
    if (f.element.kind === 'int') e[SpecSlot.bits] = f.element.bits;
    else {
      e[SpecSlot.exponent] = f.element.exponent;
      e[SpecSlot.mantissa] = f.element.mantissa;
    }
  }
  e[SpecSlot.symmetric] = spec.symmetric ? 1 : 0;
  e[SpecSlot.granularity] = GranularityCode[spec.granularity.kind];
  if (spec.granularity.kind === 'group') e[SpecSlot.groupSize] = spec.granularity.size;
  e[SpecSlot.scale] = ScaleCode[spec.scale.kind];
  if (spec.scale.kind === 'percentile') e[SpecSlot.percentile] = spec.scale.p;
  if (spec.rounding.kind === 'stochastic') {
    e[SpecSlot.rounding] = 1;
    e[SpecSlot.seed] = spec.rounding.seed;
    e[SpecSlot.offset] = spec.rounding.offset;
  }
  return e;
}
