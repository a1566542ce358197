// A small XY chart in SVG: axes (linear or log) with nice ticks and grid lines, series drawn as lines,
// points or both, optional error bars (yLo/yHi per point) or a shaded band, vertical markers, a legend.
// Output is a standalone <svg> string with explicit width/height, usable inline in HTML or as a file.

import { colorMap } from './colors.ts';
import { formatTick, makeScale } from './scale.ts';
import { esc, n } from './xml.ts';

export interface ChartPoint {
  x: number;
  y: number;
  /** Error bar or band bounds. */
  yLo?: number;
  yHi?: number;
}

export interface ChartSeries {
  name: string;
  points: ChartPoint[];
  /** 'line' joins points in x order; 'points' draws markers; 'both'. Default 'both'. */
  style?: 'line' | 'points' | 'both';
  dashed?: boolean;
  /** Draw yLo..yHi as a shaded band instead of error bars. */
  band?: boolean;
  /** Legend/color group: series with the same group share a color (e.g. observed points and fitted curve). */
  group?: string;
  /** Leave out of the legend (e.g. a fitted curve next to its observed points). */
  hideInLegend?: boolean;
  /** A fixed color (e.g. rankColor for a family of curves); default: the palette, by group. */
  color?: string;
  /** Line width in pixels. Default 1.8. */
  strokeWidth?: number;
}

export interface ChartMarker {
  x: number;
  label: string;
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  xLog?: boolean;
  yLog?: boolean;
  series: ChartSeries[];
  markers?: ChartMarker[];
  /** A horizontal reference line (e.g. y = 0 for residuals, or y = x handled by `diagonal`). */
  hline?: number;
  /** Draw y = x (fitted against observed). */
  diagonal?: boolean;
  /**
   * Where the legend goes: 'right' of the plot (default), 'inside' its top-right corner on a translucent
   * box (for long names; scaling curves fall, so that corner is usually empty), or 'none'.
   */
  legend?: 'right' | 'inside' | 'none';
  width?: number;
  height?: number;
}

const margin = { top: 34, right: 150, bottom: 46, left: 62 };
/** The right margin when the legend is not beside the plot. */
const narrowRight = 20;

/** Approximate width of a legend label at font-size 11 (system-ui averages ~6.2 px per character). */
const textWidth = (text: string) => text.length * 6.4;

export function renderChart(spec: ChartSpec): string {
  const legend = spec.legend ?? 'right';
  // Legend: one entry per color group, in first-seen order. The chart grows to fit it (never cuts it off):
  // wider for long labels beside the plot, taller for many entries.
  const entries = [
    ...new Map(spec.series.filter((s) => !s.hideInLegend).map((s) => [s.group ?? s.name, s])).values(),
  ];
  const labelWidth = Math.max(0, ...entries.map((s) => textWidth(s.group ?? s.name)));
  const right =
    legend === 'right' && entries.length > 0
      ? Math.ceil(Math.max(margin.right, 12 + 15 + labelWidth + 10))
      : narrowRight;
  const width = (spec.width ?? 640) + (right > margin.right ? right - margin.right : 0);
  const height = Math.max(spec.height ?? 380, margin.top + 12 + entries.length * 16 + margin.bottom);
  const [x0, x1] = [margin.left, width - right];
  const [y0, y1] = [height - margin.bottom, margin.top];
  const pts = spec.series.flatMap((s) => s.points);
  const xs = [...pts.map((p) => p.x), ...(spec.markers ?? []).map((m) => m.x)];
  const ys = pts.flatMap((p) => [p.y, p.yLo ?? p.y, p.yHi ?? p.y]);
  if (spec.hline !== undefined) ys.push(spec.hline);
  const xScale = makeScale(spec.diagonal ? [...xs, ...ys] : xs, x0, x1, !!spec.xLog);
  const yScale = makeScale(spec.diagonal ? [...xs, ...ys] : ys, y0, y1, !!spec.yLog);
  const palette = colorMap(spec.series.filter((s) => !s.color).map((s) => s.group ?? s.name));
  const colorOf = (s: ChartSeries) => s.color ?? palette.get(s.group ?? s.name)!;
  const out: string[] = [];
  const inX = (v: number) => v >= xScale.domain[0] && v <= xScale.domain[1];
  const inY = (v: number) => v >= yScale.domain[0] && v <= yScale.domain[1];
  const ok = (p: ChartPoint) =>
    Number.isFinite(p.x) && Number.isFinite(p.y) && (!spec.xLog || p.x > 0) && (!spec.yLog || p.y > 0);

  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="11" role="img" aria-label="${esc(spec.title)}">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${n(x0)}" y="20" font-size="13" font-weight="600">${esc(spec.title)}</text>`,
  );
  // Grid and ticks.
  for (const t of xScale.ticks.filter(inX)) {
    const x = xScale(t);
    out.push(`<line x1="${n(x)}" x2="${n(x)}" y1="${n(y0)}" y2="${n(y1)}" stroke="#e5e5e5"/>`);
    out.push(
      `<text x="${n(x)}" y="${n(y0 + 15)}" text-anchor="middle" fill="#444">${esc(formatTick(t))}</text>`,
    );
  }
  for (const t of yScale.ticks.filter(inY)) {
    const y = yScale(t);
    out.push(`<line x1="${n(x0)}" x2="${n(x1)}" y1="${n(y)}" y2="${n(y)}" stroke="#e5e5e5"/>`);
    out.push(
      `<text x="${n(x0 - 6)}" y="${n(y + 4)}" text-anchor="end" fill="#444">${esc(formatTick(t))}</text>`,
    );
  }
  out.push(
    `<rect x="${n(x0)}" y="${n(y1)}" width="${n(x1 - x0)}" height="${n(y0 - y1)}" fill="none" stroke="#999"/>`,
  );
  out.push(
    `<text x="${n((x0 + x1) / 2)}" y="${n(height - 8)}" text-anchor="middle">${esc(spec.xLabel)}</text>`,
  );
  out.push(
    `<text transform="translate(14 ${n((y0 + y1) / 2)}) rotate(-90)" text-anchor="middle">${esc(spec.yLabel)}</text>`,
  );
  if (spec.hline !== undefined && inY(spec.hline)) {
    const y = yScale(spec.hline);
    out.push(
      `<line x1="${n(x0)}" x2="${n(x1)}" y1="${n(y)}" y2="${n(y)}" stroke="#666" stroke-dasharray="4 3"/>`,
    );
  }
  if (spec.diagonal) {
    const [lo, hi] = [
      Math.max(xScale.domain[0], yScale.domain[0]),
      Math.min(xScale.domain[1], yScale.domain[1]),
    ];
    out.push(
      `<line x1="${n(xScale(lo))}" y1="${n(yScale(lo))}" x2="${n(xScale(hi))}" y2="${n(yScale(hi))}" stroke="#666" stroke-dasharray="4 3"/>`,
    );
  }

  out.push(`<g class="series">`);
  for (const s of spec.series) {
    const color = colorOf(s);
    const p = s.points.filter(ok).sort((a, b) => a.x - b.x);
    const style = s.style ?? 'both';
    const hasBounds = p.some((q) => q.yLo !== undefined && q.yHi !== undefined);
    if (hasBounds && s.band) {
      const upper = p.map((q) => `${n(xScale(q.x))},${n(yScale(q.yHi ?? q.y))}`);
      const lower = p.map((q) => `${n(xScale(q.x))},${n(yScale(q.yLo ?? q.y))}`).reverse();
      out.push(
        `<polygon points="${[...upper, ...lower].join(' ')}" fill="${color}" fill-opacity="0.15" stroke="none"/>`,
      );
    } else if (hasBounds) {
      for (const q of p) {
        if (q.yLo === undefined || q.yHi === undefined) continue;
        const x = n(xScale(q.x));
        out.push(
          `<line class="errorbar" x1="${x}" x2="${x}" y1="${n(yScale(q.yLo))}" y2="${n(yScale(q.yHi))}" stroke="${color}"/>`,
        );
      }
    }
    if ((style === 'line' || style === 'both') && p.length > 1) {
      const d = p.map((q, i) => `${i ? 'L' : 'M'}${n(xScale(q.x))} ${n(yScale(q.y))}`).join('');
      out.push(
        `<path d="${d}" fill="none" stroke="${color}" stroke-width="${s.strokeWidth ?? 1.8}"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
      );
    }
    if (style === 'points' || style === 'both') {
      for (const q of p) {
        out.push(`<circle cx="${n(xScale(q.x))}" cy="${n(yScale(q.y))}" r="3.2" fill="${color}"/>`);
      }
    }
  }
  out.push('</g>');

  for (const m of spec.markers ?? []) {
    if (!inX(m.x)) continue;
    const x = xScale(m.x);
    out.push(
      `<line class="marker" x1="${n(x)}" x2="${n(x)}" y1="${n(y0)}" y2="${n(y1)}" stroke="#c00" stroke-width="1.5"/>`,
    );
    out.push(`<text x="${n(x + 4)}" y="${n(y1 + 12)}" fill="#c00">${esc(m.label)}</text>`);
  }

  if (legend !== 'none' && entries.length > 0) {
    // Inside: right-aligned in the plot, over a box that keeps the text legible above the data.
    const boxWidth = 27 + labelWidth;
    const left = legend === 'right' ? x1 + 12 : x1 - 6 - boxWidth;
    if (legend === 'inside') {
      out.push(
        `<rect class="legend" x="${n(left - 4)}" y="${n(y1 + 2)}" width="${n(boxWidth)}" height="${n(entries.length * 16 + 6)}" fill="#fff" fill-opacity="0.8"/>`,
      );
    }
    entries.forEach((s, i) => {
      const y = y1 + 6 + i * 16;
      out.push(`<rect x="${n(left)}" y="${n(y)}" width="10" height="10" fill="${colorOf(s)}"/>`);
      out.push(`<text x="${n(left + 15)}" y="${n(y + 9)}">${esc(s.group ?? s.name)}</text>`);
    });
  }
  out.push('</svg>');
  return out.join('\n');
}
