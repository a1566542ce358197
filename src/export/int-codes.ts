// Integer-quantized linear weights as codes, scales and zero points: value = (code - zero_point) * scale,
// computed in f32, for groups of `groupSize` consecutive columns of a row (groupSize = cols: per output
// channel). RTN picks each group's scale and zero point exactly as numerics' fake-quant does (so the codes are
// the same), GPTQ takes its codes from numerics/gptq; scales are then stored as f32, and the f32 dequantized
// weight is what the exported model is.

import { NumericsError } from '../numerics/errors.ts';
import { gptqQuantize } from '../numerics/gptq.ts';
import { chooseParams, quantizerFor } from '../numerics/quantizer.ts';
import type { FakeQuantSpec } from '../numerics/spec.ts';

export interface IntLinear {
  bits: number;
  symmetric: boolean;
  rows: number;
  cols: number;
  groupSize: number;
  /** (rows, cols) codes in [0, 2^bits). */
  codes: Uint8Array;
  /** (rows, cols / groupSize). */
  scales: Float32Array;
  zeros: Uint8Array;
}

/** The f32 weight of an IntLinear. */
export function dequantizeInt(q: IntLinear): Float32Array {
  const { rows, cols, groupSize, codes, scales, zeros } = q;
  const groups = cols / groupSize;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const g = r * groups + Math.floor(c / groupSize);
      out[r * cols + c] = (codes[r * cols + c] - zeros[g]) * scales[g];
    }
  return out;
}

/** Round-to-nearest with the scale choice of an int spec (symmetric or not, any scale method). */
export function quantizeIntRtn(
  w: Float32Array,
  rows: number,
  cols: number,
  spec: FakeQuantSpec,
  groupSize: number,
): IntLinear {
  if (spec.format.kind !== 'int') throw new NumericsError('format', spec.format.kind, 'an integer format');
  const bits = spec.format.bits;
  const group = groupSize === 0 ? cols : groupSize;
  if (cols % group !== 0) throw new NumericsError('groupSize', groupSize, `a divisor of cols = ${cols}`);
  const qz = quantizerFor(spec);
  const groups = cols / group;
  const offset = spec.symmetric ? 2 ** (bits - 1) : 0;
  const out: IntLinear = {
    bits,
    symmetric: spec.symmetric,
    rows,
    cols,
    groupSize: group,
    codes: new Uint8Array(rows * cols),
    scales: new Float32Array(rows * groups),
    zeros: new Uint8Array(rows * groups),
  };
  const values = new Float64Array(group);
  for (let r = 0; r < rows; r++)
    for (let g = 0; g < groups; g++) {
      const start = r * cols + g * group;
      for (let k = 0; k < group; k++) values[k] = w[start + k];
      const p = chooseParams(qz, values, group);
      for (let k = 0; k < group; k++) {
        // As quantizeValue: v = x * (1/s) + z, clamped, onto the grid.
        let v = values[k] * (1 / p.scale) + p.zero;
        if (v < qz.lo) v = qz.lo;
        else if (v > qz.hi) v = qz.hi;
        out.codes[start + k] = qz.grid.nearest(v) + offset;
      }
      out.scales[r * groups + g] = p.scale;
      out.zeros[r * groups + g] = p.zero + offset;
    }
  return out;
}

/** GPTQ's codes and group parameters as an IntLinear (symmetric: code = q + 2^(bits-1)). */
export function quantizeIntGptq(
  w: Float32Array,
  rows: number,
  cols: number,
  hessian: Float64Array,
  options: { bits: number; groupSize: number; actOrder: boolean },
): IntLinear {
  const result = gptqQuantize(w, rows, cols, hessian, options);
  const group = options.groupSize === 0 ? cols : options.groupSize;
  const offset = 2 ** (options.bits - 1);
  return {
    bits: options.bits,
    symmetric: true,
    rows,
    cols,
    groupSize: group,
    codes: result.codes,
    scales: Float32Array.from(result.scales),
    zeros: Uint8Array.from(result.zeros, (z) => z + offset),
  };
}
