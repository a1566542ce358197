// Axis scales (linear and log10) mapping data to pixels, with "nice" tick values: 1-2-5 steps on linear
// axes, powers of ten (plus 2 and 5 when the range is short) on log axes.

export interface Scale {
  (value: number): number;
  ticks: number[];
  domain: [number, number];
  log: boolean;
}

/** Ticks at 1, 2 or 5 times a power of ten, covering [lo, hi] with about `count` steps. */
export function niceLinearTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
    ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

export function niceLogTicks(lo: number, hi: number): number[] {
  // Less than a decade: powers of ten would leave the axis nearly bare, so use linear steps.
  if (Math.log10(hi / lo) < 1) return niceLinearTicks(lo, hi, 6).filter((t) => t > 0);
  const [a, b] = [Math.floor(Math.log10(lo)), Math.ceil(Math.log10(hi))];
  const mults = b - a <= 2 ? [1, 2, 5] : [1];
  const ticks: number[] = [];
  for (let e = a; e <= b; e++) {
    for (const m of mults) {
      const t = Number((m * 10 ** e).toPrecision(12));
      if (t >= lo * (1 - 1e-9) && t <= hi * (1 + 1e-9)) ticks.push(t);
    }
  }
  return ticks.length >= 2 ? ticks : [lo, hi];
}

/** A scale over the data's extent, padded a little, mapped onto [p0, p1] pixels. */
export function makeScale(values: number[], p0: number, p1: number, log: boolean): Scale {
  const finite = values.filter((v) => Number.isFinite(v) && (!log || v > 0));
  let lo = finite.length ? Math.min(...finite) : log ? 1 : 0;
  let hi = finite.length ? Math.max(...finite) : log ? 10 : 1;
  if (log) {
    if (hi / lo < 1.0001) [lo, hi] = [lo / 2, hi * 2];
    const pad = (Math.log10(hi) - Math.log10(lo)) * 0.05;
    [lo, hi] = [lo / 10 ** pad, hi * 10 ** pad];
  } else {
    if (hi - lo < 1e-12) [lo, hi] = [lo - 1, hi + 1];
    const pad = (hi - lo) * 0.05;
    [lo, hi] = [lo - pad, hi + pad];
  }
  const f = log ? Math.log10 : (x: number) => x;
  const [flo, fhi] = [f(lo), f(hi)];
  const scale = ((v: number) => p0 + ((f(v) - flo) / (fhi - flo)) * (p1 - p0)) as Scale;
  scale.ticks = log ? niceLogTicks(lo, hi) : niceLinearTicks(lo, hi);
  scale.domain = [lo, hi];
  scale.log = log;
  return scale;
}

/** Short tick labels: 1e6 -> "1M", 0.25 -> "0.25", 30000 -> "30k". */
export function formatTick(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${trim(v / 1e9)}G`;
  if (a >= 1e6) return `${trim(v / 1e6)}M`;
  if (a >= 1e4) return `${trim(v / 1e3)}k`;
  if (a !== 0 && a < 1e-3) return v.toExponential(0);
  return trim(v);
}

function trim(v: number): string {
  return String(Number(v.toPrecision(3)));
}
