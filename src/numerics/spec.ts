// What "P bits" means for one tensor: the number format, how scales are shared, how values round.
// Owned by numerics; backends receive it whole in their fakeQuant kernel.

/** A number format a tensor can be quantized to. */
export type NumberFormat =
  | { kind: 'int'; bits: number } // integer grid, 1..8 bits
  | { kind: 'fp'; exponent: number; mantissa: number } // e.g. E4M3, E5M2, E3M2, E2M3, E2M1
  | { kind: 'nf4' }
  | { kind: 'ternary' } // {-1, 0, +1} x absmean scale (BitNet b1.58)
  | { kind: 'binary' } // sign x mean-abs scale (BitNet b1 / XNOR)
  | { kind: 'bf16' }
  | { kind: 'fp16' };

/** Which elements share one scale, for a tensor viewed as (rows, cols). */
export type Granularity =
  | { kind: 'tensor' }
  | { kind: 'row' } // one scale per row: per output channel of an (out, in) weight, per token of activations
  | { kind: 'col' }
  | { kind: 'group'; size: number }; // contiguous groups of `size` along each row

export type ScaleMethod = { kind: 'absmax' } | { kind: 'percentile'; p: number } | { kind: 'mse' };

export type Rounding = { kind: 'nearest' } | { kind: 'stochastic'; seed: number; offset: number };

export interface FakeQuantSpec {
  format: NumberFormat;
  /** Integer formats only: false adds a zero point (asymmetric range). */
  symmetric: boolean;
  granularity: Granularity;
  scale: ScaleMethod;
  rounding: Rounding;
}
