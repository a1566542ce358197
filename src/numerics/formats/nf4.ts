// NF4, the 4-bit NormalFloat of QLoRA (Dettmers et al. 2023, arXiv 2305.14314): 16 values in [-1, 1] at
// quantiles of N(0, 1), asymmetric so that 0 is exact, normalized by the largest. The constants are the
// ones QLoRA published (bitsandbytes' NF4 table), index = code.
export const NF4_VALUES: readonly number[] = [
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
  -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
  0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
];

/** Midpoints between neighbouring values: code = number of midpoints strictly below v (ties go down). */
export const NF4_MIDPOINTS: readonly number[] = NF4_VALUES.slice(1).map((v, i) => (NF4_VALUES[i] + v) / 2);

export function encodeNf4(v: number): number {
  let code = 0;
  for (const m of NF4_MIDPOINTS) if (v > m) code++;
  return code;
}

export function decodeNf4(code: number): number {
  return NF4_VALUES[code];
}
