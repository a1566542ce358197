// The report's charts, built from its input: one ChartSpec per figure of issue 9.

import { fitInputs } from './fit-inputs.ts';
import { countLabel, dSeries, nSeries } from './labels.ts';
import type { ChartSeries, ChartSpec } from './svg/chart.ts';
import type { FittedCurve, ReportInput, RunRow } from './types.ts';

export interface NamedChart {
  /** File-safe name: charts/<id>.svg, charts/<id>.png. */
  id: string;
  spec: ChartSpec;
}

const maxOf = (runs: RunRow[], key: (r: RunRow) => number) => Math.max(...runs.map(key));
const atMax = (runs: RunRow[], key: (r: RunRow) => number) => runs.filter((r) => key(r) === maxOf(runs, key));

/** The runs at the grid's highest training precision: the slice the loss-vs-N and loss-vs-D curves are drawn at. */
function referenceRuns(train: RunRow[]): RunRow[] {
  if (train.length === 0) return [];
  const best = train.reduce((a, b) =>
    b.P_w > a.P_w || (b.P_w === a.P_w && (b.P_a > a.P_a || (b.P_a === a.P_a && b.P_kv > a.P_kv))) ? b : a,
  );
  return train.filter((r) => r.precision === best.precision);
}

/** The runs of the loss-against-bits slice: all parts at P, or weights at P with the rest at full precision. */
function bitsRuns(runs: RunRow[], slice: ReportInput['bitsSlice']): RunRow[] {
  if (slice === 'all-parts') return runs.filter((r) => r.P_a === r.P_w && r.P_kv === r.P_w);
  const [a, kv] = [maxOf(runs, (r) => r.P_a), maxOf(runs, (r) => r.P_kv)];
  return runs.filter((r) => r.P_a === a && r.P_kv === kv);
}

export function buildCharts(input: ReportInput): NamedChart[] {
  const { train, ptq } = fitInputs(input.runs);
  const reference = referenceRuns(train);
  const precision = reference[0]?.precision ?? '';
  const ptqAtN = atMax(ptq, (r) => r.N);
  const charts: NamedChart[] = [
    {
      id: 'loss-vs-N',
      spec: {
        title: `Loss against model size N at ${precision}, one fitted curve per D`,
        xLabel: 'non-embedding parameters N',
        yLabel: 'validation loss',
        xLog: true,
        yLog: true,
        series: observedWithCurves(
          reference,
          (r) => dSeries(r.D),
          (r) => r.N,
          input.curves,
          'loss-vs-N',
        ),
      },
    },
    {
      id: 'loss-vs-D',
      spec: {
        title: `Loss against training tokens D at ${precision}, one fitted curve per N`,
        xLabel: 'training tokens D',
        yLabel: 'validation loss',
        xLog: true,
        yLog: true,
        series: observedWithCurves(
          reference,
          (r) => nSeries(r.N),
          (r) => r.D,
          input.curves,
          'loss-vs-D',
        ),
      },
    },
    {
      id: 'loss-vs-bits',
      spec: {
        title: `Loss against training precision, ${input.bitsSlice === 'all-parts' ? 'all parts at P' : 'weights at P'} (D = ${countLabel(maxOf(train, (r) => r.D))}), one fitted curve per N`,
        xLabel: 'training precision P_w (bits)',
        yLabel: 'validation loss',
        xLog: true,
        yLog: true,
        series: observedWithCurves(
          bitsRuns(
            atMax(train, (r) => r.D),
            input.bitsSlice,
          ),
          (r) => nSeries(r.N),
          (r) => r.P_w,
          input.curves,
          'loss-vs-bits',
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
        title: 'Residuals log(observed / fitted) against N',
        xLabel: 'non-embedding parameters N',
        yLabel: 'log(observed / fitted)',
        xLog: true,
        hline: 0,
        series: groupBy(input.fitted, (f) => f.form).map(([form, pts]) => {
          const n = new Map(input.runs.map((r) => [r.id, r.N]));
          return {
            name: form,
            style: 'points' as const,
            points: pts
              .filter((f) => n.has(f.id))
              .map((f) => ({ x: n.get(f.id)!, y: Math.log(f.observed / f.predicted) })),
          };
        }),
      },
    },
    {
      id: 'delta-ptq-vs-D',
      spec: {
        title: `PTQ degradation δ_PTQ against training tokens D at N = ${ptqAtN.length ? countLabel(ptqAtN[0].N) : '—'}, per P_post`,
        xLabel: 'training tokens D',
        yLabel: 'δ_PTQ (loss after PTQ − before)',
        xLog: true,
        series: observedWithCurves(
          ptqAtN.map((r) => ({ ...r, loss: r.deltaPtq ?? null })),
          (r) => `${r.ptqPrecision} ${r.method}`,
          (r) => r.D,
          input.curves,
          'delta-ptq-vs-D',
        ),
      },
    },
    {
      id: 'critical-data-vs-N',
      spec: {
        title: 'Critical data size against N: past it, more pretraining data hurts after PTQ',
        xLabel: 'non-embedding parameters N',
        yLabel: 'training tokens D',
        xLog: true,
        yLog: true,
        series: [
          ...input.curves
            .filter((c) => c.panel === 'critical-data-vs-N')
            .map((c) => ({ name: `${c.series} (fit)`, style: 'line' as const, points: c.points })),
          ...(input.curves.some((c) => c.panel === 'critical-data-vs-N')
            ? [
                {
                  name: 'measured runs',
                  style: 'points' as const,
                  points: train.map((r) => ({ x: r.N, y: r.D })),
                },
              ]
            : []),
        ],
      },
    },
    {
      id: 'p-star-vs-compute',
      spec: {
        title: `Compute-optimal training precision P* against compute (${input.decision?.cost ?? ''})`,
        xLabel: 'compute C (FLOPs)',
        yLabel: 'P* (bits)',
        xLog: true,
        series: [
          {
            name: 'P* (fit)',
            style: 'both' as const,
            points: (input.decision?.answers ?? []).flatMap((a) =>
              a.P === undefined ? [] : [{ x: a.compute, y: a.P }],
            ),
          },
          {
            name: 'nearest inside measured precisions',
            style: 'points' as const,
            points: (input.decision?.answers ?? []).flatMap((a) =>
              a.inside?.P === undefined ? [] : [{ x: a.compute, y: a.inside.P }],
            ),
          },
        ].filter((s) => s.points.length > 0),
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
  // A chart with nothing to draw is left out (the report says why in words).
  return charts.filter((c) => c.spec.series.some((s) => s.points.length > 0));
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
