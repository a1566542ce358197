// Labels shared by the report's input builder and its charts, so a fitted curve and the points of its
// slice carry the same series name (and so the same color).

/** 262144 -> "262k", 1.5e9 -> "1.5G". */
export function countLabel(x: number): string {
  const units: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [scale, unit] of units) if (x >= scale) return `${+(x / scale).toPrecision(3)}${unit}`;
  return String(+x.toPrecision(3));
}

export const dSeries = (D: number) => `D = ${countLabel(D)}`;
export const nSeries = (N: number) => `N = ${countLabel(N)}`;
