// The quanta study's report section: three kinds of chart (per-task emergence colored by frequency rank;
// L(N), L(D), L(S) with fitted and predicted exponents; QDG cluster rank-frequency) and an HTML summary.

import { type ChartSeries, renderChart } from '../../report/svg/chart.ts';
import { rankColor } from '../../report/svg/colors.ts';
import type { ScalingFit } from './scaling-fit.ts';
import type { QuantaResults } from './study.ts';

export interface ReportSection {
  title: string;
  html: string;
  /** File name -> SVG text. */
  svgs: Record<string, string>;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number | null | undefined, digits = 3) =>
  v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(digits);

export function emergenceChart(results: QuantaResults): string {
  const { steps, perTaskLoss, width } = results.emergence;
  const n = perTaskLoss.length;
  const series: ChartSeries[] = perTaskLoss
    .map((curve, t) => ({
      name: `task rank ${t + 1}`,
      points: curve.map((y, i) => ({ x: steps[i], y })),
      style: 'line' as const,
      color: rankColor(t, n),
      strokeWidth: 1,
      hideInLegend: t !== 0 && t !== n - 1,
    }))
    .reverse(); // frequent tasks drawn last, on top
  return renderChart({
    title: `Per-task held-out loss, width ${width} (blue = most frequent)`,
    xLabel: 'step',
    yLabel: 'loss (nats)',
    xLog: true,
    series,
  });
}

export function scalingChart(fit: ScalingFit, label: string): string {
  const xs = fit.points.map((p) => p.x);
  const [lo, hi] = [Math.min(...xs), Math.max(...xs)];
  const grid = Array.from({ length: 30 }, (_, i) => lo * (hi / lo) ** (i / 29));
  // The predicted slope, drawn through the geometric mean of the data so the two slopes compare by eye.
  const gx = Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length);
  const gy = Math.exp(fit.points.reduce((s, p) => s + Math.log(p.loss), 0) / xs.length);
  const iv = fit.interval ? ` [${fmt(fit.interval.lower)}, ${fmt(fit.interval.upper)}]` : '';
  return renderChart({
    title: `L(${fit.variable}): fitted alpha ${fmt(fit.exponent)}${iv}, predicted ${fmt(fit.predicted)}`,
    xLabel: label,
    yLabel: 'test loss (nats)',
    xLog: true,
    yLog: true,
    series: [
      { name: 'runs', points: fit.points.map((p) => ({ x: p.x, y: p.loss })), style: 'points' },
      { name: 'fit', points: grid.map((x) => ({ x, y: (fit.scale / x) ** fit.exponent })), style: 'line' },
      {
        name: 'predicted slope',
        points: grid.map((x) => ({ x, y: gy * (gx / x) ** fit.predicted })),
        style: 'line',
        dashed: true,
      },
    ],
  });
}

export function rankFrequencyChart(results: QuantaResults): string | null {
  const q = results.qdg;
  if (!q) return null;
  const rf = q.rankFrequency;
  const ranks = rf.sizes.map((_, i) => i + 1);
  return renderChart({
    title: `QDG cluster sizes: Zipf exponent ${fmt(rf.zipfExponent, 2)} (${q.tokens} tokens)`,
    xLabel: 'rank',
    yLabel: 'cluster size (tokens)',
    xLog: true,
    yLog: true,
    series: [
      { name: 'clusters', points: rf.sizes.map((s, i) => ({ x: i + 1, y: s })), style: 'points' },
      {
        name: 'fit',
        points: ranks.map((r) => ({ x: r, y: Math.exp(rf.intercept) * r ** -rf.zipfExponent })),
        style: 'line',
      },
    ],
  });
}

export function quantaReportSection(results: QuantaResults): ReportSection {
  const svgs: Record<string, string> = { 'quanta-emergence.svg': emergenceChart(results) };
  const labels = { N: 'parameters N', D: 'training samples D', S: 'steps S' } as const;
  for (const key of ['N', 'D', 'S'] as const) {
    const fit = results.fits[key];
    if (fit) svgs[`quanta-scaling-${key}.svg`] = scalingChart(fit, labels[key]);
  }
  const rf = rankFrequencyChart(results);
  if (rf) svgs['quanta-qdg-rank-frequency.svg'] = rf;

  const o = results.emergence.order;
  const t = results.preset.task;
  const fitRows = (['N', 'D', 'S'] as const)
    .map((k) => {
      const f = results.fits[k];
      if (!f) return `<tr><td>alpha_${k}</td><td colspan="3">no fit</td></tr>`;
      const iv = f.interval ? `[${fmt(f.interval.lower)}, ${fmt(f.interval.upper)}]` : 'n/a';
      return `<tr><td>alpha_${k}</td><td>${fmt(f.exponent)}</td><td>${iv}</td><td>${fmt(f.predicted)}</td></tr>`;
    })
    .join('\n');
  const clusterRows = (results.qdg?.clusters ?? [])
    .slice(0, 10)
    .map(
      (c) =>
        `<tr><td>${c.size}</td><td>${c.examples.map((e) => `<code>${esc(e)}</code>`).join('<br>')}</td></tr>`,
    )
    .join('\n');
  const html = `<section id="quanta">
<h2>The quantization model of scaling</h2>
<p>Multitask sparse parity: ${t.nTasks} tasks, n = ${t.n}, k = ${t.k}, Zipf exponent ${t.zipfExponent};
${results.preset.model.depth}-hidden-layer ${results.preset.model.activation} MLPs, widths ${results.preset.sweeps.width.widths.join(', ')},
batch ${results.preset.train.batchSize}, ${results.preset.train.steps} steps, AdamW lr ${results.preset.train.lr}.</p>
<p>Tasks learned by the widest model: ${o.learned}; order of learning vs frequency rank: Spearman rho = ${fmt(o.rhoLearned)}
(learned tasks), ${fmt(o.rhoAll)} (all tasks, never-learned tied last); abrupt transitions: ${fmt(o.abruptFraction * 100, 0)}%.</p>
<table><tr><th>exponent</th><th>measured</th><th>bootstrap interval</th><th>predicted</th></tr>
${fitRows}
</table>
${results.fits.errors.length ? `<p>Fits not made: ${esc(results.fits.errors.join('; '))}</p>` : ''}
${Object.keys(svgs)
  .map((f) => `<img src="${f}" alt="${f}">`)
  .join('\n')}
${results.qdg ? `<h3>Quanta discovery from gradients</h3><p>${results.qdg.tokens} tokens, ${results.qdg.clusters.length} clusters, rank-frequency Zipf exponent ${fmt(results.qdg.rankFrequency.zipfExponent, 2)}.</p><table><tr><th>size</th><th>examples (predicted token in brackets)</th></tr>\n${clusterRows}\n</table>` : ''}
</section>`;
  return { title: 'The quantization model of scaling', html, svgs };
}
