// The multi-start grid: the Cartesian product of each parameter's start values, enumerated by index
// (mixed radix, last parameter fastest) so nothing of size |grid| x p is ever materialized.

import { LawsOptionError } from './errors.ts';
import type { Form } from './form.ts';
import { toInternal } from './form.ts';
import { seededRng } from './rng.ts';

export interface StartGrid {
  readonly count: number;
  /** Writes start number s (0 <= s < count) into x, in internal space. */
  fill(s: number, x: Float64Array): void;
}

export function startGrid(
  form: Form,
  overrides: Readonly<Record<string, readonly number[]>> = {},
  maxStarts = 20000,
  seed = 0,
): StartGrid {
  for (const name of Object.keys(overrides)) {
    if (!form.params.some((q) => q.name === name)) {
      throw new LawsOptionError(
        `starts.${name}`,
        overrides[name],
        `a parameter of the form: ${form.params.map((q) => q.name).join(', ')}`,
      );
    }
  }
  const values = form.params.map((q) => {
    const natural = overrides[q.name];
    if (!natural) return q.starts;
    if (natural.length === 0 || natural.some((v) => !Number.isFinite(v) || (q.space === 'log' && v <= 0))) {
      throw new LawsOptionError(
        `starts.${q.name}`,
        natural,
        q.space === 'log' ? 'finite positive numbers' : 'finite numbers',
      );
    }
    return natural.map((v) => toInternal(q, v));
  });
  if (!(Number.isInteger(maxStarts) && maxStarts >= 1))
    throw new LawsOptionError('maxStarts', maxStarts, 'a whole number >= 1');
  const total = values.reduce((n, v) => n * v.length, 1);
  const fillFull = (s: number, x: Float64Array) => {
    for (let j = values.length - 1; j >= 0; j--) {
      const k = values[j].length;
      x[j] = values[j][s % k];
      s = Math.floor(s / k);
    }
  };
  if (total <= maxStarts) return { count: total, fill: fillFull };
  // Too many: a seeded subset without replacement, kept in grid order.
  const rng = seededRng(seed);
  const picked = new Set<number>();
  while (picked.size < maxStarts) picked.add(Math.floor(rng.next() * total));
  const chosen = Float64Array.from(picked).sort();
  return { count: maxStarts, fill: (s, x) => fillFull(chosen[s], x) };
}
