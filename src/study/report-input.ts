// From the study's analysis to the report's plain-data input: run rows, fit tables, fitted curves evaluated on
// grids, fitted-vs-observed points, and predicted loss against training precision at fixed compute.
import { computeOptimal, LossModel } from '../laws/index.ts';
import type { FittedCurve, FittedPoint, PrecisionAtCompute, ReportInput, RunRow } from '../report/types.ts';
import type { LawFit, StudyAnalysis, StudyRow } from './analyze.ts';

const logspace = (lo: number, hi: number, n: number) =>
  Array.from({ length: n }, (_, i) => Math.exp(Math.log(lo) + ((Math.log(hi) - Math.log(lo)) * i) / (n - 1)));

/** Loss of a fitted law at points given as records (missing precision columns count as unquantized). */
function predict(model: LossModel, points: Record<string, number>[]): number[] {
  const columns: Record<string, Float64Array> = {};
  for (const v of model.variables)
    columns[v] = Float64Array.from(points, (p) => p[v] ?? Number.POSITIVE_INFINITY);
  return [...model.lossAt(columns, points.length)];
}

const trainLabel = (r: StudyRow) =>
  r.labels.a === 'fp32' && r.labels.kv === 'fp32'
    ? `w ${r.labels.w}`
    : `w ${r.labels.w} a ${r.labels.a} kv ${r.labels.kv}`;

function runRow(r: StudyRow): RunRow {
  return {
    id: r.id,
    kind: r.kind,
    status: r.status,
    N: r.N,
    D: r.D,
    precision: trainLabel(r),
    P_w: r.Pw,
    P_a: r.Pa,
    P_kv: r.Pkv,
    ...(r.kind === 'ptq'
      ? {
          P_post: r.Ppost,
          ptqPrecision: r.labels.post,
          method: r.labels.method,
          deltaPtq: r.deltaPtq ?? null,
        }
      : {}),
    seed: 0,
    loss: Number.isFinite(r.loss) ? r.loss : null,
  };
}

function curves(analysis: StudyAnalysis): FittedCurve[] {
  const out: FittedCurve[] = [];
  const train = analysis.rows.filter((r) => r.kind === 'train' && r.status === 'done');
  if (train.length === 0) return out;
  const fit = (name: LawFit['name']) => analysis.fits.find((f) => f.name === name)?.result ?? null;
  const lossFit = fit('precision') ?? fit('chinchilla');
  const Ns = train.map((r) => r.N);
  const Ds = train.map((r) => r.D);
  const [nLo, nHi, dLo, dHi] = [Math.min(...Ns), Math.max(...Ns), Math.min(...Ds), Math.max(...Ds)];
  if (lossFit) {
    const model = new LossModel(lossFit);
    const groups = new Map<string, StudyRow>();
    for (const r of train) groups.set(trainLabel(r), r);
    for (const [series, r] of groups) {
      if (lossFit === fit('chinchilla') && series !== 'w fp32') continue;
      const at = { Pw: r.Pw, Pa: r.Pa, Pkv: r.Pkv };
      const nGrid = logspace(nLo / 1.5, nHi * 1.5, 24);
      const dGrid = logspace(dLo / 1.5, dHi * 1.5, 24);
      const lossN = predict(
        model,
        nGrid.map((N) => ({ N, D: dHi, ...at })),
      );
      const lossD = predict(
        model,
        dGrid.map((D) => ({ N: nHi, D, ...at })),
      );
      out.push({ panel: 'loss-vs-N', series, points: nGrid.map((x, i) => ({ x, y: lossN[i] })) });
      out.push({ panel: 'loss-vs-D', series, points: dGrid.map((x, i) => ({ x, y: lossD[i] })) });
    }
  }
  const ptqFit = fit('ptq');
  if (ptqFit) {
    const model = new LossModel(ptqFit);
    const posts = [...new Set(analysis.rows.filter((r) => r.kind === 'ptq').map((r) => r.Ppost))].sort(
      (a, b) => a - b,
    );
    const dGrid = logspace(dLo / 1.5, dHi * 1.5, 24);
    const base = predict(
      model,
      dGrid.map((D) => ({ N: nHi, D })),
    );
    for (const Ppost of posts) {
      const after = predict(
        model,
        dGrid.map((D) => ({ N: nHi, D, Ppost })),
      );
      out.push({
        panel: 'delta-ptq-vs-D',
        series: `P_post ${Ppost}`,
        points: dGrid.map((x, i) => ({ x, y: after[i] - base[i] })),
      });
    }
  }
  return out;
}

function fittedPoints(analysis: StudyAnalysis): FittedPoint[] {
  return analysis.fits.flatMap((f) =>
    f.result
      ? f.rows.map((r, i) => ({
          id: r.id,
          form: f.title,
          observed: r.loss,
          predicted: r.loss * Math.exp(f.result!.residuals[i]),
        }))
      : [],
  );
}

/**
 * Predicted loss at the best (N, D) for each training precision P, by the same optimizer and cost model as
 * `bitscale optimize` (each point is its answer with P held there); the optimum is that of the analysis.
 */
function precisionAtCompute(analysis: StudyAnalysis): PrecisionAtCompute[] {
  const fit = analysis.fits.find((f) => f.name === 'precision')?.result;
  if (!fit || analysis.optimalPrecision.length === 0) return [];
  const model = new LossModel(fit);
  return analysis.optimalPrecision.slice(1, 4).map((o) => {
    const points = Array.from({ length: 15 }, (_, i) => i + 2).map((bits) => {
      const at = computeOptimal(model, o.compute, {
        cost: analysis.decision.model,
        precision: { min: bits, max: bits },
      });
      return { bits, loss: at.loss };
    });
    return { compute: o.compute, points, optimalBits: o.P ?? Number.NaN };
  });
}

/** One line per fit instead of one per parameter: which parameters the grid cannot pin down. */
function warningSummary(f: LawFit): string {
  const loose = Object.entries(f.result!.intervals ?? {})
    .filter(([name, i]) => i.upper - i.lower > Math.abs(f.result!.params[name]))
    .map(([name]) => name);
  const other = f.result!.warnings.filter((w) => !/poorly identified/.test(w));
  const parts = [
    ...(loose.length > 0 ? [`95% bootstrap intervals wider than the value for ${loose.join(', ')}`] : []),
    ...other,
  ];
  return `${f.title}: ${parts.join('; ')}`;
}

export function studyReportInput(analysis: StudyAnalysis, title: string, notes: string[] = []): ReportInput {
  return {
    title,
    generatedAt: new Date().toISOString(),
    runs: analysis.rows.map(runRow),
    fits: analysis.fits
      .filter((f) => f.result)
      .map((f) => ({
        form: f.title,
        parameters: Object.entries(f.result!.params).map(([name, value]) => ({
          name,
          value,
          lo: f.result!.intervals?.[name]?.lower,
          hi: f.result!.intervals?.[name]?.upper,
        })),
        runs: f.rows.length,
        heldOutError: f.result!.holdout?.meanRelativeError,
      })),
    curves: curves(analysis),
    fitted: fittedPoints(analysis),
    precisionAtCompute: precisionAtCompute(analysis),
    notes: [
      ...notes,
      ...analysis.fits.filter((f) => !f.result).map((f) => `${f.title}: not fitted — ${f.skipped}`),
      ...analysis.fits.filter((f) => f.result && f.result.warnings.length > 0).map(warningSummary),
    ],
  };
}
