// From the study's analysis to the report's plain-data input: run rows, fit tables, fitted curves evaluated on
// grids, fitted-vs-observed points, and predicted loss against training precision at fixed compute.
import { computeOptimal, criticalDataSize, LossModel } from '../laws/index.ts';
import { countLabel, dSeries, nSeries } from '../report/labels.ts';
import type {
  Decision,
  Finding,
  FittedCurve,
  FittedPoint,
  PrecisionAtCompute,
  ReportInput,
  RunRow,
} from '../report/types.ts';
import type { LawFit, StudyAnalysis, StudyRow } from './analyze.ts';
import { onebitFindings, onebitSectionHtml } from './onebit-report.ts';

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

/** The training precision the loss-vs-N and loss-vs-D slices are drawn at: the highest one of the grid. */
function referenceRows(train: StudyRow[]): StudyRow[] {
  const key = (r: StudyRow) => [r.Pw, r.Pa, r.Pkv];
  const best = train.reduce((a, b) => {
    const [x, y] = [key(a), key(b)];
    return y[0] > x[0] || (y[0] === x[0] && (y[1] > x[1] || (y[1] === x[1] && y[2] > x[2]))) ? b : a;
  });
  return train.filter((r) => trainLabel(r) === trainLabel(best));
}

const distinct = (xs: number[]) => [...new Set(xs)].sort((a, b) => a - b);

/** The loss-against-bits slice: all parts at one precision when the grid quantizes them together, else weights. */
function bitsSlice(train: readonly StudyRow[]): 'all-parts' | 'weights' {
  const together = train.filter((r) => r.Pa === r.Pw && r.Pkv === r.Pw);
  return new Set(together.map((r) => r.Pw)).size > 1 ? 'all-parts' : 'weights';
}

/** Fitted curves, each drawn at the slice of the points shown with it (one per D, per N, per P_post). */
function curves(analysis: StudyAnalysis): FittedCurve[] {
  const out: FittedCurve[] = [];
  const train = analysis.rows.filter((r) => r.kind === 'train' && r.status === 'done');
  if (train.length === 0) return out;
  const fit = (name: LawFit['name']) => analysis.fits.find((f) => f.name === name)?.result ?? null;
  const lossFit = fit('precision') ?? fit('chinchilla');
  const Ns = train.map((r) => r.N);
  const Ds = train.map((r) => r.D);
  const [nLo, nHi, dLo, dHi] = [Math.min(...Ns), Math.max(...Ns), Math.min(...Ds), Math.max(...Ds)];
  const nGrid = logspace(nLo / 1.5, nHi * 1.5, 24);
  const dGrid = logspace(dLo / 1.5, dHi * 1.5, 24);
  const reference = referenceRows(train);
  if (lossFit) {
    const model = new LossModel(lossFit);
    const at = { Pw: reference[0].Pw, Pa: reference[0].Pa, Pkv: reference[0].Pkv };
    for (const D of distinct(reference.map((r) => r.D))) {
      const loss = predict(
        model,
        nGrid.map((N) => ({ N, D, ...at })),
      );
      out.push({ panel: 'loss-vs-N', series: dSeries(D), points: nGrid.map((x, i) => ({ x, y: loss[i] })) });
    }
    for (const N of distinct(reference.map((r) => r.N))) {
      const loss = predict(
        model,
        dGrid.map((D) => ({ N, D, ...at })),
      );
      out.push({ panel: 'loss-vs-D', series: nSeries(N), points: dGrid.map((x, i) => ({ x, y: loss[i] })) });
    }
  }
  const precisionFit = fit('precision');
  if (precisionFit) {
    // Loss against training bits at the largest D, one curve per N; parts the grid quantizes together
    // move together on the curve, the others stay at full precision.
    const model = new LossModel(precisionFit);
    const allParts = bitsSlice(train) === 'all-parts';
    const [refA, refKv] = [Math.max(...train.map((r) => r.Pa)), Math.max(...train.map((r) => r.Pkv))];
    const bits = logspace(2, 32, 30);
    for (const N of distinct(train.filter((r) => r.D === dHi).map((r) => r.N))) {
      const loss = predict(
        model,
        bits.map((P) => ({ N, D: dHi, Pw: P, Pa: allParts ? P : refA, Pkv: allParts ? P : refKv })),
      );
      out.push({
        panel: 'loss-vs-bits',
        series: nSeries(N),
        points: bits.map((x, i) => ({ x, y: loss[i] })),
      });
    }
  }
  const ptqFit = fit('ptq');
  if (ptqFit) {
    const model = new LossModel(ptqFit);
    const ptqRows = fittedPtqRows(analysis);
    const base = predict(
      model,
      dGrid.map((D) => ({ N: nHi, D })),
    );
    const posts = new Map(ptqRows.map((r) => [`${r.labels.post} ${r.labels.method}`, r.Ppost]));
    for (const [series, Ppost] of posts) {
      const after = predict(
        model,
        dGrid.map((D) => ({ N: nHi, D, Ppost })),
      );
      out.push({
        panel: 'delta-ptq-vs-D',
        series,
        points: dGrid.map((x, i) => ({ x, y: after[i] - base[i] })),
      });
      const critical = logspace(nLo / 3, nHi * 30, 16)
        .map((N) => ({ x: N, y: criticalDataSize(model, { N, Ppost }).D }))
        .filter((p) => Number.isFinite(p.y));
      if (critical.length > 1) out.push({ panel: 'critical-data-vs-N', series, points: critical });
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

/** The PTQ rows the delta_PTQ law was fitted on (full-precision training, one PTQ method). */
function fittedPtqRows(analysis: StudyAnalysis): StudyRow[] {
  const rows = analysis.fits.find((f) => f.name === 'ptq')?.rows ?? [];
  return rows.filter((r) => r.kind === 'ptq');
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

const num = (x: number) =>
  !Number.isFinite(x)
    ? String(x)
    : Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0)
      ? x.toExponential(2)
      : String(Number(x.toPrecision(3)));
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** Loss by training precision, cell by cell (same N and D): is higher precision lower loss everywhere? */
function precisionOrderFinding(train: StudyRow[]): Finding | null {
  const cells = new Map<string, StudyRow[]>();
  for (const r of train) cells.set(`${r.N}|${r.D}`, [...(cells.get(`${r.N}|${r.D}`) ?? []), r]);
  const rank = (a: StudyRow, b: StudyRow) => a.Pw - b.Pw || a.Pa - b.Pa || a.Pkv - b.Pkv;
  const compared = [...cells.values()].filter((c) => new Set(c.map(trainLabel)).size > 1);
  if (compared.length === 0) return null;
  const disordered = compared.filter((c) => {
    const sorted = [...c].sort(rank);
    return sorted.some((r, i) => i > 0 && rank(sorted[i - 1], r) < 0 && r.loss > sorted[i - 1].loss);
  });
  const labels = [...new Set(train.map(trainLabel))];
  const order = labels
    .map((l) => ({ l, rows: train.filter((r) => trainLabel(r) === l) }))
    .sort((a, b) => rank(b.rows[0], a.rows[0]));
  const meanLoss = order.map(
    ({ l, rows }) => `${l} ${num(rows.reduce((s, r) => s + r.loss, 0) / rows.length)}`,
  );
  const [high, low] = [order[0], order[order.length - 1]];
  const gaps = compared.flatMap((c) => {
    const h = c.find((r) => trainLabel(r) === high.l);
    const lo = c.find((r) => trainLabel(r) === low.l);
    return h && lo ? [lo.loss - h.loss] : [];
  });
  const gap =
    gaps.length > 0
      ? ` ${low.l} − ${high.l}: ${num(gaps.reduce((s, g) => s + g, 0) / gaps.length)} on average (${num(Math.min(...gaps))} to ${num(Math.max(...gaps))} across ${gaps.length} cells).`
      : '';
  const shown = disordered.length === 0;
  const text = shown
    ? `Loss is ordered by training precision in all ${compared.length} (N, D) cells: the higher the precision, the lower the loss (mean loss ${meanLoss.join(', ')}).${gap}`
    : `The data do not show loss ordered by training precision everywhere: ${disordered.length} of ${compared.length} (N, D) cells break the order (${disordered
        .slice(0, 3)
        .map((c) => `N = ${countLabel(c[0].N)}, D = ${countLabel(c[0].D)}`)
        .join('; ')}); mean loss ${meanLoss.join(', ')}.${gap}`;
  return { id: 'precision-order', text, shown };
}

/** delta_PTQ against D at the largest N: observed at the ends of the D range, and the fitted gamma_D. */
function deltaPtqFinding(analysis: StudyAnalysis): Finding | null {
  const rows = fittedPtqRows(analysis).filter((r) => r.deltaPtq !== undefined && Number.isFinite(r.deltaPtq));
  if (rows.length === 0) return null;
  const N = Math.max(...rows.map((r) => r.N));
  const atN = rows.filter((r) => r.N === N);
  const series = [...new Set(atN.map((r) => `${r.labels.post} ${r.labels.method}`))];
  let rising = 0;
  const observed = series.map((s) => {
    const rs = atN.filter((r) => `${r.labels.post} ${r.labels.method}` === s).sort((a, b) => a.D - b.D);
    const [first, last] = [rs[0], rs[rs.length - 1]];
    if ((last.deltaPtq ?? 0) > (first.deltaPtq ?? 0)) rising++;
    return `${s} from ${num(first.deltaPtq ?? Number.NaN)} at D = ${countLabel(first.D)} to ${num(last.deltaPtq ?? Number.NaN)} at D = ${countLabel(last.D)}`;
  });
  const fit = analysis.fits.find((f) => f.name === 'ptq')?.result;
  const g = fit?.params.gamma_D;
  const iv = fit?.intervals?.gamma_D ?? fit?.profile?.gamma_D;
  const fitted =
    g === undefined
      ? ''
      : ` Fitted γ_D = ${num(g)}${iv ? ` [${num(iv.lower)}, ${num(iv.upper)}]` : ' (no interval: no bootstrap)'}.`;
  const intervalAboveZero = iv ? iv.lower > 1e-3 : g !== undefined && g > 1e-3;
  const shown = rising === series.length && intervalAboveZero;
  const text = shown
    ? `δ_PTQ grows with the data a model was trained on, at fixed N = ${countLabel(N)}: ${observed.join('; ')}.${fitted}`
    : `The data do not show δ_PTQ growing with the training data at fixed N = ${countLabel(N)} (${rising} of ${series.length} PTQ precisions rise, ${intervalAboveZero ? 'γ_D interval above 0' : 'γ_D interval reaches 0'}): ${observed.join('; ')}.${fitted}`;
  return { id: 'delta-ptq-vs-D', text, shown };
}

function heldOutFinding(f: LawFit): Finding {
  const r = f.result!;
  const q = r.quality;
  const quality = `mean |log residual| ${pct(q.meanAbsLog)}, R² ${num(q.r2)}${q.describes ? '' : '; the form does not describe the data'}`;
  const text = r.holdout
    ? `${f.title}: held-out error ${pct(r.holdout.meanRelativeError)} (max ${pct(r.holdout.maxRelativeError)}) on the ${r.holdout.rows.length} largest runs, fitted on ${r.points} (${quality}).`
    : `${f.title}: held-out error not measured (too few runs to hold any out); ${quality} on ${r.points} runs.`;
  return { id: `held-out-${f.name}`, text, shown: r.holdout !== undefined && q.describes };
}

function optimalPrecisionFindings(analysis: StudyAnalysis): Finding[] {
  const { decision } = analysis;
  if (decision.undecided) {
    return [
      {
        id: 'optimal-precision',
        text: `The compute-optimal training precision is not decided (${decision.cost}): ${decision.undecided}.`,
        shown: false,
      },
    ];
  }
  return analysis.optimalPrecision.map((o, i) => {
    const extra = o.extrapolated ?? [];
    const where =
      extra.length === 0
        ? 'inside the measured ranges'
        : `an extrapolation (${extra.map((e) => `${e.variable} = ${num(e.value)} outside ${num(e.range[0])}..${num(e.range[1])}`).join(', ')})`;
    const inside = o.inside
      ? `; the best answer inside the measured precisions is ${num(o.inside.P ?? Number.NaN)} bits (loss ${num(o.inside.loss)})`
      : '';
    return {
      id: `optimal-precision-${i}`,
      text: `At C = ${o.compute.toExponential(1)} FLOPs (${decision.cost}): P* = ${num(o.P ?? Number.NaN)} bits${o.interval?.P ? ` [${num(o.interval.P[0])}, ${num(o.interval.P[1])}] over the bootstrap refits` : ''}, N* = ${num(o.N)}, D* = ${num(o.D)}, predicted loss ${num(o.loss)}: ${where}${inside}.`,
      shown: extra.length === 0,
    };
  });
}

function criticalDataFindings(analysis: StudyAnalysis): Finding[] {
  const fit = analysis.fits.find((f) => f.name === 'ptq')?.result;
  const rows = fittedPtqRows(analysis);
  if (!fit || rows.length === 0) return [];
  const N = Math.max(...rows.map((r) => r.N));
  const [dLo, dHi] = [Math.min(...rows.map((r) => r.D)), Math.max(...rows.map((r) => r.D))];
  const posts = new Map(rows.map((r) => [`${r.labels.post} ${r.labels.method}`, r.Ppost]));
  return [...posts].map(([label, Ppost]) => {
    const c = criticalDataSize(fit, { N, Ppost });
    const inside = c.D >= dLo && c.D <= dHi;
    const text = Number.isFinite(c.D)
      ? `Critical data size for ${label} at N = ${countLabel(N)}: past D = ${countLabel(c.D)} tokens more pretraining data raises the loss after PTQ (fit); ${inside ? 'inside' : 'outside'} the measured D = ${countLabel(dLo)}..${countLabel(dHi)}${inside ? '' : ', an extrapolation'}.`
      : `The fit shows no critical data size for ${label} at N = ${countLabel(N)} up to 1e18 tokens.`;
    return { id: `critical-data-${label}`, text, shown: Number.isFinite(c.D) && inside };
  });
}

function findings(analysis: StudyAnalysis): Finding[] {
  const train = analysis.rows.filter(
    (r) => r.kind === 'train' && r.status === 'done' && Number.isFinite(r.loss),
  );
  return [
    precisionOrderFinding(train),
    deltaPtqFinding(analysis),
    ...analysis.fits.filter((f) => f.result).map(heldOutFinding),
    ...optimalPrecisionFindings(analysis),
    ...criticalDataFindings(analysis),
  ].filter((f): f is Finding => f !== null);
}

function decision(analysis: StudyAnalysis): Decision {
  return {
    cost: analysis.decision.cost,
    ...(analysis.decision.undecided && { undecided: analysis.decision.undecided }),
    answers: analysis.optimalPrecision.map((o) => ({
      compute: o.compute,
      N: o.N,
      D: o.D,
      P: o.P,
      loss: o.loss,
      extrapolated: (o.extrapolated ?? []).map((e) => e.variable),
      ...(o.inside && { inside: { P: o.inside.P, loss: o.inside.loss } }),
    })),
  };
}

function ranges(analysis: StudyAnalysis): Record<string, [number, number]> {
  const used = analysis.rows.filter((r) => r.status === 'done' && Number.isFinite(r.loss));
  const out: Record<string, [number, number]> = {};
  for (const key of ['N', 'D', 'Pw', 'Pa', 'Pkv'] as const) {
    const xs = used.filter((r) => r.kind === 'train').map((r) => r[key]);
    if (xs.length > 0) out[key] = [Math.min(...xs), Math.max(...xs)];
  }
  const posts = used.filter((r) => r.kind === 'ptq').map((r) => r.Ppost);
  if (posts.length > 0) out.Ppost = [Math.min(...posts), Math.max(...posts)];
  return out;
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
          flag: f.result!.intervals?.[name]?.flag,
          profileLo: f.result!.profile?.[name]?.lower,
          profileHi: f.result!.profile?.[name]?.upper,
        })),
        runs: f.rows.length,
        heldOutError: f.result!.holdout?.meanRelativeError,
        quality: {
          meanAbsLog: f.result!.quality.meanAbsLog,
          r2: f.result!.quality.r2,
          describes: f.result!.quality.describes,
        },
        warnings: f.result!.warnings,
      })),
    ...(analysis.outliers ? { outliers: analysis.outliers } : {}),
    findings: [...findings(analysis), ...(analysis.onebit ? onebitFindings(analysis.onebit) : [])],
    ...(analysis.onebit && {
      sections: [
        {
          id: 'onebit',
          title: 'OneBit students and other ~1-bit models',
          html: onebitSectionHtml(analysis.onebit),
        },
      ],
    }),
    bitsSlice: bitsSlice(analysis.rows.filter((r) => r.kind === 'train' && r.status === 'done')),
    explorer: analysis.fits
      .filter((f) => f.result)
      .map((f) => ({
        title: f.title,
        fit: {
          form: f.result!.form,
          internal: f.result!.internal,
          ...(f.result!.bootstrap && { bootstrap: { samples: f.result!.bootstrap.samples } }),
          ranges: f.result!.ranges,
        },
      })),
    decision: decision(analysis),
    ranges: ranges(analysis),
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
