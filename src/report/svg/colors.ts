// Series colors: a colorblind-friendly categorical palette (Okabe-Ito), cycled, so the same series name
// gets the same color in every chart of a report.
const palette = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#F0E442', '#000000'];

export function colorFor(index: number): string {
  return palette[index % palette.length];
}

/** Assigns colors to names in first-seen order, stable across charts. */
export function colorMap(names: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const name of names) if (!m.has(name)) m.set(name, colorFor(m.size));
  return m;
}

/** A color for position `rank` of `count` on a blue (0, e.g. the most frequent) to red (count - 1) scale. */
export function rankColor(rank: number, count: number): string {
  const f = count > 1 ? rank / (count - 1) : 0;
  return `hsl(${(240 - 240 * f).toFixed(0)}, 75%, 45%)`;
}
