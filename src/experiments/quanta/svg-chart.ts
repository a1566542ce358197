// A small SVG line/scatter chart for the quanta report (log or linear axes, many series, a legend).
// Stand-in until the report module's src/report/svg lands; the figure description is plain data.

export interface Series {
  points: readonly { x: number; y: number }[];
  color: string;
  label?: string;
  dashed?: boolean;
  /** Draw markers instead of a line. */
  markers?: boolean;
  width?: number;
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  logX?: boolean;
  logY?: boolean;
  series: Series[];
  width?: number;
  height?: number;
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceTicks(lo: number, hi: number, log: boolean): number[] {
  if (log) {
    const ticks: number[] = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      const v = 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) ticks.push(v);
    }
    if (ticks.length >= 3) return ticks;
    // Less than two decades: label 1, 2 and 5 times the powers of ten too.
    const finer: number[] = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      for (const m of [1, 2, 5]) {
        const v = m * 10 ** e;
        if (v >= lo * 0.999 && v <= hi * 1.001) finer.push(v);
      }
    }
    return finer.length >= 2 ? finer : [lo, hi];
  }
  const step = 10 ** Math.floor(Math.log10((hi - lo) / 4 || 1));
  const mult = [1, 2, 5, 10].find((m) => (hi - lo) / (step * m) <= 6) ?? 10;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / (step * mult)) * step * mult; v <= hi + 1e-12; v += step * mult) ticks.push(v);
  return ticks;
}

const format = (v: number) =>
  Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-2 && v !== 0) ? v.toExponential(0) : String(+v.toPrecision(3));

export function lineChart(spec: ChartSpec): string {
  const W = spec.width ?? 640;
  const H = spec.height ?? 420;
  const m = { left: 70, right: 170, top: 40, bottom: 55 };
  const all = spec.series
    .flatMap((s) => s.points)
    .filter(
      (p) =>
        (!spec.logX || p.x > 0) && (!spec.logY || p.y > 0) && Number.isFinite(p.x) && Number.isFinite(p.y),
    );
  const xs = all.map((p) => p.x);
  const ys = all.map((p) => p.y);
  let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  if (!(x1 > x0)) [x0, x1] = spec.logX ? [x0 / 2, x0 * 2 || 1] : [x0 - 1, x0 + 1];
  if (!(y1 > y0)) [y0, y1] = spec.logY ? [y0 / 2, y0 * 2 || 1] : [y0 - 1, y0 + 1];
  const tx = (v: number) => (spec.logX ? Math.log(v) : v);
  const ty = (v: number) => (spec.logY ? Math.log(v) : v);
  const px = (v: number) => m.left + ((tx(v) - tx(x0)) / (tx(x1) - tx(x0))) * (W - m.left - m.right);
  const py = (v: number) => H - m.bottom - ((ty(v) - ty(y0)) / (ty(y1) - ty(y0))) * (H - m.top - m.bottom);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - m.right / 2 + m.left / 2}" y="22" text-anchor="middle" font-size="14">${escapeXml(spec.title)}</text>`,
  ];
  for (const v of niceTicks(x0, x1, !!spec.logX)) {
    out.push(`<line x1="${px(v)}" x2="${px(v)}" y1="${m.top}" y2="${H - m.bottom}" stroke="#eee"/>`);
    out.push(`<text x="${px(v)}" y="${H - m.bottom + 15}" text-anchor="middle">${format(v)}</text>`);
  }
  for (const v of niceTicks(y0, y1, !!spec.logY)) {
    out.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${py(v)}" y2="${py(v)}" stroke="#eee"/>`);
    out.push(`<text x="${m.left - 6}" y="${py(v) + 4}" text-anchor="end">${format(v)}</text>`);
  }
  out.push(
    `<rect x="${m.left}" y="${m.top}" width="${W - m.left - m.right}" height="${H - m.top - m.bottom}" fill="none" stroke="#333"/>`,
  );
  out.push(
    `<text x="${(m.left + W - m.right) / 2}" y="${H - 15}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`,
  );
  out.push(
    `<text transform="translate(18 ${(m.top + H - m.bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(spec.yLabel)}</text>`,
  );
  let legendY = m.top + 8;
  for (const s of spec.series) {
    const pts = s.points.filter(
      (p) => (!spec.logX || p.x > 0) && (!spec.logY || p.y > 0) && Number.isFinite(p.y),
    );
    if (s.markers) {
      for (const p of pts)
        out.push(`<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="3.5" fill="${s.color}"/>`);
    } else if (pts.length > 0) {
      const d = pts.map((p, i) => `${i ? 'L' : 'M'}${px(p.x).toFixed(1)} ${py(p.y).toFixed(1)}`).join('');
      out.push(
        `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 1.5}"${s.dashed ? ' stroke-dasharray="5 4"' : ''}/>`,
      );
    }
    if (s.label) {
      out.push(
        `<line x1="${W - m.right + 10}" x2="${W - m.right + 30}" y1="${legendY}" y2="${legendY}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 4"' : ''}/>`,
      );
      out.push(`<text x="${W - m.right + 35}" y="${legendY + 4}">${escapeXml(s.label)}</text>`);
      legendY += 16;
    }
  }
  out.push('</svg>');
  return out.join('\n');
}

/** A color for position t of n on a blue (0, most frequent) to red (n - 1) scale. */
export function rankColor(t: number, n: number): string {
  const f = n > 1 ? t / (n - 1) : 0;
  const hue = 240 - 240 * f;
  return `hsl(${hue.toFixed(0)}, 75%, 45%)`;
}
