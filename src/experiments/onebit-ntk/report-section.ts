// The experiment's section of a bitscale report: NTK drift vs width (log-log), the 1-bit / full-precision
// gap vs width, and loss vs width for both precisions, each with its fitted exponent and interval.

import { type ChartSeries, type ChartSpec, renderChart } from '../../report/svg/chart.ts';
import { esc } from '../../report/svg/xml.ts';
import type { OnebitNtkAnalysis } from './analysis.ts';
import type { PowerLawFit } from './power-law.ts';

export interface ReportSection {
  title: string;
  html: string;
  /** Chart name -> SVG text. */
  svgs: Record<string, string>;
}

export interface OnebitNtkResultsLike {
  analysis: OnebitNtkAnalysis;
  /** The command that reproduces the results. */
  command?: string;
}

const COLORS = { onebit: '#d62728', fp: '#1f77b4', gap: '#2ca02c' };

export function exponentText(fit: PowerLawFit): string {
  return `${fit.exponent.toFixed(3)} [${fit.interval[0].toFixed(3)}, ${fit.interval[1].toFixed(3)}]`;
}

/** A fit's runs as points, and its line y = A x^k across their x range (dashed, same color, no legend entry). */
function fitSeries(name: string, color: string, fit: PowerLawFit): ChartSeries[] {
  const xs = fit.points.map((p) => p.x);
  const line = xs.length ? [Math.min(...xs), Math.max(...xs)] : [];
  return [
    { name, color, points: fit.points, style: 'points' },
    {
      name: `${name} (fit)`,
      group: name,
      color,
      points: line.map((x) => ({ x, y: fit.prefactor * x ** fit.exponent })),
      style: 'line',
      dashed: true,
      hideInLegend: true,
    },
  ];
}

/** A log-log chart of fits, legend inside (its names carry the slopes, too long for the side). */
function logLogChart(spec: Omit<ChartSpec, 'xLog' | 'yLog' | 'legend' | 'width' | 'height'>): string {
  return renderChart({ ...spec, xLog: true, yLog: true, legend: 'inside', width: 480, height: 320 });
}

export function onebitNtkReportSection(results: OnebitNtkResultsLike): ReportSection {
  const { fits, claims } = results.analysis;
  const pair = (title: string, xLabel: string, yLabel: string, f: { onebit: PowerLawFit; fp: PowerLawFit }) =>
    logLogChart({
      title,
      xLabel,
      yLabel,
      series: [
        ...fitSeries(`1-bit: slope ${exponentText(f.onebit)}`, COLORS.onebit, f.onebit),
        ...fitSeries(`full precision: slope ${exponentText(f.fp)}`, COLORS.fp, f.fp),
      ],
    });
  const svgs: Record<string, string> = {
    'ntk-drift-vs-width': pair(
      'NTK drift vs width',
      'width m',
      '||K_t - K_0|| / ||K_0||',
      fits.ntkDriftVsWidth,
    ),
    'gen-diff-vs-width': logLogChart({
      title: 'Generalization difference vs width',
      xLabel: 'width m',
      yLabel: 'mean |f_1bit - f_fp| (held out)',
      series: fitSeries(`slope ${exponentText(fits.genDiffVsWidth)}`, COLORS.gap, fits.genDiffVsWidth),
    }),
    'train-loss-vs-n': pair('Training loss vs parameters', 'parameters N', 'train loss', fits.trainLossVsN),
    'test-loss-vs-d': pair(
      'Held-out loss vs training set',
      'training examples D',
      'held-out loss',
      fits.testLossVsD,
    ),
    'train-loss-vs-c': pair(
      'Training loss vs compute',
      'compute C = 6 N D S',
      'train loss',
      fits.trainLossVsC,
    ),
  };
  const row = (what: string, f: PowerLawFit) =>
    `<tr><td>${esc(what)}</td><td>${exponentText(f)}</td><td>${f.prefactor.toPrecision(4)}</td><td>${f.points.length}</td></tr>`;
  const yes = (b: boolean) => (b ? 'yes' : 'no');
  const html = [
    '<section class="onebit-ntk">',
    '<h2>1-bit networks in the kernel regime</h2>',
    '<p>Two-layer ReLU networks with hidden weights sign(latent) x scale (straight-through gradients) next to a',
    'full-precision twin started from the same latent weights. Slopes are log-log exponents with 95% bootstrap intervals.</p>',
    '<table><tr><th>fit (y = A x^k)</th><th>k [95% interval]</th><th>A</th><th>points</th></tr>',
    row('NTK drift vs width, 1-bit', fits.ntkDriftVsWidth.onebit),
    row('NTK drift vs width, full precision', fits.ntkDriftVsWidth.fp),
    row('generalization difference vs width', fits.genDiffVsWidth),
    row('train loss vs N, 1-bit', fits.trainLossVsN.onebit),
    row('train loss vs N, full precision', fits.trainLossVsN.fp),
    row('held-out loss vs D, 1-bit', fits.testLossVsD.onebit),
    row('held-out loss vs D, full precision', fits.testLossVsD.fp),
    row('train loss vs C, 1-bit', fits.trainLossVsC.onebit),
    row('train loss vs C, full precision', fits.trainLossVsC.fp),
    '</table>',
    '<ul>',
    `<li>NTK drift falls with width (1-bit slope interval below 0): <b>${yes(claims.driftFallsWithWidth)}</b></li>`,
    `<li>generalization difference bounded (widest ${claims.genDiffWidest.toFixed(4)} vs narrowest ${claims.genDiffNarrowest.toFixed(4)}): <b>${yes(claims.genDiffBounded)}</b></li>`,
    `<li>1-bit training loss at the widest width ${claims.onebitTrainLossWidest.toExponential(3)} below ${claims.smallLoss}: <b>${yes(claims.onebitLossSmall)}</b></li>`,
    '</ul>',
    results.command ? `<p>Reproduce: <code>${esc(results.command)}</code></p>` : '',
    ...Object.keys(svgs).map((name) => `<figure>${svgs[name]}</figure>`),
    '</section>',
  ].join('\n');
  return { title: '1-bit networks in the kernel regime', html, svgs };
}
