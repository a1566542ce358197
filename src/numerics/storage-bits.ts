// Honest bits per parameter: what a quantized (rows, cols) tensor really occupies, counting the packed
// codes at the width pack.ts stores them (ternary takes 2 bits, not log2(3)), every scale, every zero
// point, and for 1-bit layers the value vectors.

import { type FakeQuantSpec, validateSpec } from './spec.ts';

export interface StorageBits {
  elementBits: number; // per element, as packed
  scaleCount: number;
  scaleBits: number; // total
  zeroBits: number; // total
  totalBits: number;
  bitsPerParameter: number;
}

export interface StorageOptions {
  /** Bits of each stored scale (fp16 by default; MX scales are E8M0, 8 bits, regardless). */
  scaleBits?: number;
  /** Bits of each stored zero point (asymmetric int; default: the element width, as GPTQ packs them). */
  zeroBits?: number;
}

export function elementBits(spec: FakeQuantSpec): number {
  const f = spec.format;
  switch (f.kind) {
    case 'int':
      return f.bits;
    case 'fp':
      return 1 + f.exponent + f.mantissa;
    case 'mx':
      return f.element.kind === 'int' ? 8 : 1 + f.element.exponent + f.element.mantissa;
    case 'nf4':
      return 4;
    case 'ternary':
      return 2;
    case 'binary':
      return 1;
    case 'bf16':
    case 'fp16':
      return 16;
  }
}

export function storageBits(
  spec: FakeQuantSpec,
  rows: number,
  cols: number,
  options: StorageOptions = {},
): StorageBits {
  validateSpec(spec, rows, cols);
  const n = rows * cols;
  const perElement = elementBits(spec);
  const g = spec.granularity;
  const scaled = spec.scale.kind !== 'none';
  const scaleCount = !scaled
    ? 0
    : g.kind === 'tensor'
      ? 1
      : g.kind === 'row'
        ? rows
        : g.kind === 'col'
          ? cols
          : n / g.size;
  const bitsPerScale = spec.format.kind === 'mx' ? 8 : (options.scaleBits ?? 16);
  const scaleBits = scaleCount * bitsPerScale;
  const zeroBits = spec.symmetric ? 0 : scaleCount * (options.zeroBits ?? perElement);
  const totalBits = n * perElement + scaleBits + zeroBits;
  return {
    elementBits: perElement,
    scaleCount,
    scaleBits,
    zeroBits,
    totalBits,
    bitsPerParameter: n > 0 ? totalBits / n : 0,
  };
}

/** OneBit / SVID layer: 1 sign bit per weight plus value vectors a (rows) and b (cols), fp16 by default. */
export function signValueBits(rows: number, cols: number, valueBits = 16): StorageBits {
  const n = rows * cols;
  const scaleBits = (rows + cols) * valueBits;
  return {
    elementBits: 1,
    scaleCount: rows + cols,
    scaleBits,
    zeroBits: 0,
    totalBits: n + scaleBits,
    bitsPerParameter: (n + scaleBits) / n,
  };
}
