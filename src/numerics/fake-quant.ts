// fakeQuantArray: the readable reference of the engine's fakeQuant kernel (the js backend calls exactly
// this; native/cpu/fake_quant.cc must give the same bits). Quantize-then-dequantize x, viewed as
// (rows, cols) row-major, into out (which may alias x), group by group.

import { philoxBlock, uniformFromBits } from '../base/philox.ts';
import { assertFinite, NumericsError } from './errors.ts';
import { chooseParams, insideRange, quantizerFor, quantizeValue } from './quantizer.ts';
import { type FakeQuantSpec, type Granularity, validateSpec } from './spec.ts';

type FloatArray = Float32Array | Float64Array;

/** A group of elements sharing one scale: x[start + k * stride] for k < length. */
export interface GroupLayout {
  count: number;
  length: number;
  start(group: number): number;
  stride: number;
}

export function groupLayout(g: Granularity, rows: number, cols: number): GroupLayout {
  switch (g.kind) {
    case 'tensor':
      return { count: rows * cols > 0 ? 1 : 0, length: rows * cols, start: () => 0, stride: 1 };
    case 'row':
      return { count: rows, length: cols, start: (r) => r * cols, stride: 1 };
    case 'col':
      return { count: cols, length: rows, start: (c) => c, stride: cols };
    case 'group':
      return { count: (rows * cols) / g.size, length: g.size, start: (i) => i * g.size, stride: 1 };
  }
}

/**
 * out = dequantize(quantize(x)) per spec. When steMask is given it gets 1 where x lies inside its group's
 * clipping range and 0 where it was clipped (for the clipped straight-through gradient).
 * Throws NumericsError on a bad spec, a group size that does not divide cols, short arrays or non-finite x.
 */
export function fakeQuantArray(
  spec: FakeQuantSpec,
  x: FloatArray,
  out: FloatArray,
  rows: number,
  cols: number,
  steMask: FloatArray | null,
): void {
  validateSpec(spec, rows, cols);
  const n = rows * cols;
  for (const [name, a] of [
    ['x', x],
    ['out', out],
    ['steMask', steMask],
  ] as const) {
    if (a && a.length < n) throw new NumericsError(`${name}.length`, a.length, `at least rows * cols = ${n}`);
  }
  assertFinite('x', x, n);
  const qz = quantizerFor(spec);
  const layout = groupLayout(spec.granularity, rows, cols);
  const stochastic = spec.rounding.kind === 'stochastic';
  const seed = spec.rounding.kind === 'stochastic' ? spec.rounding.seed : 0;
  const offset = spec.rounding.kind === 'stochastic' ? spec.rounding.offset : 0;
  const values = new Float64Array(layout.length);
  const bits = new Uint32Array(4);
  let cachedBlock = -1;
  for (let g = 0; g < layout.count; g++) {
    const start = layout.start(g);
    for (let k = 0; k < layout.length; k++) values[k] = x[start + k * layout.stride];
    const params = chooseParams(qz, values, layout.length);
    for (let k = 0; k < layout.length; k++) {
      const i = start + k * layout.stride;
      let u = 0;
      if (stochastic) {
        const index = offset + i;
        const block = Math.floor(index / 4);
        if (block !== cachedBlock) {
          philoxBlock(block, seed, bits);
          cachedBlock = block;
        }
        u = uniformFromBits(bits[index % 4]);
      }
      if (steMask) steMask[i] = insideRange(qz, params, values[k]) ? 1 : 0;
      out[i] = quantizeValue(qz, params, values[k], u, stochastic);
    }
  }
}
