// Rounding primitives shared by every grid: round-half-to-even, exact binary exponents, and the
// stochastic choice between the two grid neighbours of a value.

/** Round half to even (IEEE roundTiesToEven), exact for every double. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v); // half up
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** floor(log2(a)) for a > 0, exact (Math.log2 alone can be off by one next to powers of two). */
export function floorLog2(a: number): number {
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  return e;
}

/**
 * Stochastic rounding between neighbours lo <= v <= hi: hi with probability (v - lo) / (hi - lo), so the
 * expected result is v. `u` is uniform in (0, 1).
 */
export function roundStochastic(v: number, lo: number, hi: number, u: number): number {
  if (hi === lo) return lo;
  return u < (v - lo) / (hi - lo) ? hi : lo;
}
