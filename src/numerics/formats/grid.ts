// A grid is what a quantizer rounds onto, in scaled units: the scaled value v = x / scale lands on it.
// Every format of the spec is one of four shapes: integers, a minifloat, a table (NF4), or integers
// with a fixed step (the MXINT8 element, step 2^-6).

import { roundHalfEven } from '../round.ts';
import { type Minifloat, minifloatNeighbours, roundMinifloat } from './minifloat.ts';
import { NF4_MIDPOINTS, NF4_VALUES } from './nf4.ts';

export interface Grid {
  /** Largest magnitude on the grid, the value the clipping bound maps to. */
  readonly max: number;
  /** Nearest grid value, ties to even (table grids: ties to the lower value). v lies in [-max, max]. */
  nearest(v: number): number;
  /** The grid values lo <= v <= hi around v (lo === hi when v is on the grid). */
  neighbours(v: number): [number, number];
}

/** Integers with step `step`, magnitude up to max (symmetric int: step 1; MXINT8: step 2^-6). */
export function integerGrid(max: number, step = 1): Grid {
  return {
    max,
    nearest: (v) => roundHalfEven(v / step) * step,
    neighbours: (v) => {
      const lo = Math.floor(v / step) * step;
      return [lo, lo === v ? lo : lo + step];
    },
  };
}

/** saturate = false: overflow follows the format (Inf for IEEE fp16/bf16), as a cast does. */
export function minifloatGrid(f: Minifloat, saturate = true): Grid {
  return {
    max: f.max,
    nearest: (v) => roundMinifloat(f, v, saturate),
    neighbours: (v) => minifloatNeighbours(f, v),
  };
}

export const nf4Grid: Grid = {
  max: 1,
  nearest: (v) => {
    let code = 0;
    for (const m of NF4_MIDPOINTS) if (v > m) code++;
    return NF4_VALUES[code];
  },
  neighbours: (v) => {
    let i = 0;
    while (i < NF4_VALUES.length - 1 && NF4_VALUES[i + 1] <= v) i++;
    const lo = NF4_VALUES[i];
    return [lo, lo === v ? lo : NF4_VALUES[i + 1]];
  },
};
