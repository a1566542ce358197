// The report's charts, built from its input: one ChartSpec per figure of issue 9.

import { fitInputs } from './fit-inputs.ts';
import type { ChartSeries, ChartSpec } from './svg/chart.ts';
import type { FittedCurve, ReportInput, RunRow } from './types.ts';

export interface NamedChart {
  /** File-safe name: charts/<id>.svg, charts/<id>.png. */
  id: string;
  spec: ChartSpec;
}

const maxOf = (runs: RunRow[], key: (r: RunRow) => number) => Math.max(...runs.map(key));
const atMax = (runs: RunRow[], key: (r: RunRow) => number) => runs.filter((r) => key(r) === maxOf(runs, key));
const fmtCount = (x: number) =>
  x >= 1e6 ? `${+(x / 1e6).toPrecision(3)}M` : x >= 1e3 ? `${+(x / 1e3).toPrecision(3)}k` : String(x);

export function buildCharts(input: ReportInput): NamedChart[] {
  const { train, ptq } = fitInputs(input.runs);
  const charts: NamedChart[] = [
    {
      id: 'loss-vs-N',
      spec: {
        title: `Loss against model size N, per training precision (D = ${fmtCount(maxOf(train, (r) => r.D))})`,
        xLabel: 'non-embedding parameters N',
        yLabel: 'validation loss',
        xLog: true,
        yLog: true,
        // The fitted curves are drawn at the largest D, so the points shown are the runs at that D.
        series: observedWithCurves(
          atMax(train, (r) => r.D),
          (r) => r.precision,
          (r) => r.N,
          input.curves,
          'loss-vs-N',
        ),
      },
    },
    {
      id: 'loss-vs-D',
      spec: {
        title: `Loss against training tokens D, per training precision (N = ${fmtCount(maxOf(train, (r) => r.N))})`,
        xLabel: 'training tokens D',
        yLabel: 'validation loss',
        xLog: true,
        yLog: true,
        series: observedWithCurves(
          atMax(train, (r) => r.N),
          (r) => r.precision,
          (r) => r.D,
          input.curves,
          'loss-vs-D',
        ),
      },
    },
    {
      id: 'fitted-vs-observed',
      spec: {
        title: 'Fitted against observed loss',
        xLabel: 'observed loss',
        yLabel: 'fitted loss',
        diagonal: true,
        series: groupBy(input.fitted, (f) => f.form).map(([form, pts]) => ({
          name: form,
          style: 'points' as const,
          points: pts.map((f) => ({ x: f.observed, y: f.predicted })),
        })),
      },
    },
    {
      id: 'residuals',
      spec: {
        title: 'Residuals (observed − fitted) against N',
        xLabel: 'non-embedding parameters N',
        yLabel: 'residual loss',
        xLog: true,
        hline: 0,
        series: groupBy(input.fitted, (f) => f.form).map(([form, pts]) => {
          const n = new Map(input.runs.map((r) => [r.id, r.N]));
          return {
            name: form,
            style: 'points' as const,
            points: pts
              .filter((f) => n.has(f.id))
              .map((f) => ({ x: n.get(f.id)!, y: f.observed - f.predicted })),
          };
        }),
      },
    },
    {
      id: 'delta-ptq-vs-D',
      spec: {
        title: 'PTQ degradation δ_PTQ against training tokens D, per P_post',
        xLabel: 'training tokens D',
        yLabel: 'δ_PTQ (loss after PTQ − before)',
        xLog: true,
        series: observedWithCurves(
          ptq.map((r) => ({ ...r, loss: r.deltaPtq ?? null })),
          (r) => `${r.ptqPrecision} ${r.method}`,
          (r) => r.D,
          input.curves,
          'delta-ptq-vs-D',
        ),
      },
    },
    {
      id: 'loss-vs-precision',
      spec: {
        title: 'Predicted loss against training precision at fixed compute',
        xLabel: 'training precision P (bits)',
        yLabel: 'predicted loss',
        series: input.precisionAtCompute.map((c) => ({
          name: `C = ${c.compute.toExponential(1)}`,
          style: 'both' as const,
          band: true,
          points: c.points.map((p) => ({ x: p.bits, y: p.loss, yLo: p.lo, yHi: p.hi })),
        })),
        markers: input.precisionAtCompute.map((c) => ({
          x: c.optimalBits,
          label: `optimal ${round(c.optimalBits)} bits`,
        })),
      },
    },
  ];
  return charts;
}

/** Observed runs as points, grouped by series, with the matching fitted curve drawn in the same color. */
function observedWithCurves(
  rows: RunRow[],
  seriesOf: (r: RunRow) => string,
  xOf: (r: RunRow) => number,
  curves: FittedCurve[],
  panel: FittedCurve['panel'],
): ChartSeries[] {
  const series: ChartSeries[] = groupBy(rows, seriesOf).map(([name, rs]) => ({
    name,
    style: 'points',
    points: rs.map((r) => ({ x: xOf(r), y: r.loss! })),
  }));
  for (const c of curves.filter((c) => c.panel === panel)) {
    series.push({
      name: `${c.series} (fit)`,
      group: c.series,
      style: 'line',
      hideInLegend: true,
      points: c.points,
    });
  }
  return series;
}

function groupBy<T>(items: T[], key: (t: T) => string): [string, T[]][] {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    if (!m.has(k)) m.set(k, []);
    m.get(k)!.push(it);
  }
  return [...m];
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}
