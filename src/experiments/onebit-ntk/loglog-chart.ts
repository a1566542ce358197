// A small log-log scatter chart with fitted power-law lines, as an SVG string. Stands in for the shared
// chart module (src/report/svg, not landed when this was written): swap the call in report-section.ts
// when it is.

export interface ChartSeries {
  name: string;
  color: string;
  points: { x: number; y: number }[];
  /** Draws y = prefactor * x^exponent across the points' x range. */
  fit?: { prefactor: number; exponent: number };
}

export interface LogLogChart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: ChartSeries[];
}

const W = 480;
const H = 320;
const PAD = { left: 64, right: 16, top: 28, bottom: 44 };

export function logLogChart(chart: LogLogChart): string {
  const all = chart.series.flatMap((s) => s.points).filter((p) => p.x > 0 && p.y > 0);
  const xs = all.map((p) => Math.log10(p.x));
  const ys = all.map((p) => Math.log10(p.y));
  const [x0, x1] = paddedRange(xs);
  const [y0, y1] = paddedRange(ys);
  const px = (lx: number) => PAD.left + ((lx - x0) / (x1 - x0)) * (W - PAD.left - PAD.right);
  const py = (ly: number) => H - PAD.bottom - ((ly - y0) / (y1 - y0)) * (H - PAD.top - PAD.bottom);
  const parts: string[] = [];
  parts.push(
    `<rect x="${PAD.left}" y="${PAD.top}" width="${W - PAD.left - PAD.right}" height="${H - PAD.top - PAD.bottom}" fill="none" stroke="#999"/>`,
  );
  for (const t of ticks(x0, x1)) {
    parts.push(
      `<line x1="${fmt(px(t))}" y1="${H - PAD.bottom}" x2="${fmt(px(t))}" y2="${H - PAD.bottom + 4}" stroke="#555"/>`,
    );
    parts.push(
      `<text x="${fmt(px(t))}" y="${H - PAD.bottom + 16}" font-size="11" text-anchor="middle">${tickLabel(t)}</text>`,
    );
  }
  for (const t of ticks(y0, y1)) {
    parts.push(
      `<line x1="${PAD.left - 4}" y1="${fmt(py(t))}" x2="${PAD.left}" y2="${fmt(py(t))}" stroke="#555"/>`,
    );
    parts.push(
      `<text x="${PAD.left - 6}" y="${fmt(py(t) + 4)}" font-size="11" text-anchor="end">${tickLabel(t)}</text>`,
    );
  }
  for (const s of chart.series) {
    for (const p of s.points) {
      if (p.x > 0 && p.y > 0) {
        parts.push(
          `<circle cx="${fmt(px(Math.log10(p.x)))}" cy="${fmt(py(Math.log10(p.y)))}" r="3" fill="${s.color}"/>`,
        );
      }
    }
    if (s.fit && s.points.length > 0) {
      const lx = s.points.map((p) => Math.log10(p.x));
      const line = [Math.min(...lx), Math.max(...lx)].map((l) => [
        px(l),
        py(Math.log10(s.fit!.prefactor) + s.fit!.exponent * l),
      ]);
      parts.push(
        `<line x1="${fmt(line[0][0])}" y1="${fmt(line[0][1])}" x2="${fmt(line[1][0])}" y2="${fmt(line[1][1])}" stroke="${s.color}" stroke-dasharray="4 3"/>`,
      );
    }
  }
  // The legend sits on a translucent box so points under it stay visible but the text stays legible.
  const legendWidth = Math.max(...chart.series.map((s) => s.name.length)) * 6 + 8;
  parts.push(
    `<rect x="${PAD.left + 4}" y="${PAD.top + 3}" width="${legendWidth}" height="${14 * chart.series.length + 4}" fill="#fff" fill-opacity="0.8"/>`,
  );
  chart.series.forEach((s, i) => {
    parts.push(
      `<text x="${PAD.left + 8}" y="${PAD.top + 14 + 14 * i}" font-size="11" fill="${s.color}">${escapeXml(s.name)}</text>`,
    );
  });
  parts.push(
    `<text x="${W / 2}" y="16" font-size="13" text-anchor="middle">${escapeXml(chart.title)}</text>`,
  );
  parts.push(
    `<text x="${(PAD.left + W - PAD.right) / 2}" y="${H - 8}" font-size="12" text-anchor="middle">${escapeXml(chart.xLabel)}</text>`,
  );
  parts.push(
    `<text x="14" y="${(PAD.top + H - PAD.bottom) / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 14 ${(PAD.top + H - PAD.bottom) / 2})">${escapeXml(chart.yLabel)}</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">${parts.join('')}</svg>`;
}

/** Tick positions (log10) inside [lo, hi]: decades, plus 2x and 5x when the range spans under 2 decades. */
function ticks(lo: number, hi: number): number[] {
  const steps = hi - lo < 2 ? [1, 2, 5] : [1];
  const out: number[] = [];
  for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
    for (const m of steps) {
      const t = e + Math.log10(m);
      if (t >= lo && t <= hi) out.push(t);
    }
  }
  return out;
}

function tickLabel(t: number): string {
  const v = 10 ** t;
  return v >= 0.01 && v < 1e5 ? String(Number(v.toPrecision(2))) : v.toExponential(0);
}

function paddedRange(values: number[]): [number, number] {
  if (values.length === 0) return [0, 1];
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const pad = Math.max(0.1, (hi - lo) * 0.05);
  return [lo - pad, hi + pad];
}

const fmt = (v: number) => v.toFixed(1);

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
