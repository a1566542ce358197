// The precision study's analysis: from finished runs to fitted laws. Chinchilla on the full-precision runs,
// Kumar's N_eff form on the quantized-training runs, delta_PTQ on the post-training results, and the unified
// law where the grid varies both; each with bootstrap intervals and held-out error on the largest runs.
// Diverged runs are listed and left out.

import {
  type ComputeOptimum,
  type CostModel,
  datasetFromRows,
  describeCost,
  type FitResult,
  fitLaw,
  formByName,
  LawsDesignError,
  optimumInterval,
  type Part,
  precisionCurve,
  type Row,
  undecidable,
} from '../laws/index.ts';
import type { OutlierReport } from '../report/types.ts';

import type { OnebitComparison } from './onebit-comparison.ts';

/** One finished run of the study, flattened: a training run (Ppost = Infinity) or one PTQ result of it. */
export interface StudyRow extends Row {
  id: string;
  kind: 'train' | 'ptq';
  status: 'done' | 'diverged' | 'failed';
  N: number;
  D: number;
  Pw: number;
  Pa: number;
  Pkv: number;
  /** Bits after post-training quantization; Infinity for the unquantized model. */
  Ppost: number;
  loss: number;
  /** Names as written in the sweep (fp32, int4, ...). */
  labels: { w: string; a: string; kv: string; post?: string; method?: string };
  deltaPtq?: number;
  source?: string;
}

export interface LawFit {
  name: 'chinchilla' | 'precision' | 'ptq' | 'unified';
  title: string;
  /** Null when the grid cannot support this fit; `skipped` says why. */
  result: FitResult | null;
  skipped?: string;
  /** The rows it was fitted on (in the order of result.residuals). */
  rows: StudyRow[];
}

export interface StudyAnalysis {
  rows: StudyRow[];
  excluded: { id: string; reason: string }[];
  fits: LawFit[];
  /**
   * Loss-optimal training precision against compute, from the precision fit, under `decision.cost`; each
   * answer marks what it extrapolates and gives the nearest answer inside the measured precisions.
   */
  optimalPrecision: (ComputeOptimum & {
    interval?: { P?: readonly [number, number]; N: readonly [number, number] };
  })[];
  /** The cost model the decision was taken under, and why there is none when the grid cannot decide. */
  decision: { cost: string; model: CostModel; undecided?: string };
  /** OneBit students against the other ~1-bit models, when the spec has a onebit section. */
  onebit?: OnebitComparison;
  /** Recipes, activation outliers and W8A8 / weight-only PTQ (./outliers.ts), when the study has them. */
  outliers?: OutlierReport;
}

export interface AnalyzeOptions {
  bootstrap: number;
  seed: number;
  /** Fraction of the largest runs held out to measure prediction error. */
  holdout: number;
  /** Fit one exponent for N and D (alpha = beta), as Kumar et al. do; small grids cannot separate them. */
  tieExponents?: boolean;
  /** Profile-likelihood intervals next to the bootstrap (default true). */
  profile?: boolean;
  /** Cost model of the P* decision; default all-parts compute, C = 6 N D P / 16. */
  cost?: CostModel;
}

/**
 * The grid's full-precision runs: those trained at its highest precision in every part (fp32 on a CPU grid,
 * bf16 on a GPU grid), the baseline of Chinchilla and of delta_PTQ.
 */
function fullPrecision(train: readonly StudyRow[]): (r: StudyRow) => boolean {
  const max = (k: 'Pw' | 'Pa' | 'Pkv') => Math.max(...train.map((r) => r[k]));
  const [w, a, kv] = [max('Pw'), max('Pa'), max('Pkv')];
  return (r) => r.Pw === w && r.Pa === a && r.Pkv === kv;
}
const varies = (rows: StudyRow[], key: keyof StudyRow) => new Set(rows.map((r) => r[key])).size > 1;

function attempt(
  name: LawFit['name'],
  title: string,
  rows: StudyRow[],
  formName: string,
  parts: Part[] | undefined,
  options: AnalyzeOptions,
  needs: (keyof StudyRow)[],
  tieGammas: string[][] = [],
): LawFit {
  const tie = [...(options.tieExponents === false ? [] : [['alpha', 'beta']]), ...tieGammas];
  const form = formByName(formName, { ...(parts ? { parts } : {}), tie });
  const free = form.params.length;
  if (rows.length < free + 2) {
    return {
      name,
      title,
      result: null,
      rows,
      skipped: `${rows.length} runs for ${free} parameters (needs at least ${free + 2})`,
    };
  }
  const flat = needs.filter((k) => !varies(rows, k));
  if (flat.length > 0)
    return { name, title, result: null, rows, skipped: `the grid does not vary ${flat.join(', ')}` };
  const data = datasetFromRows(rows, form.variables, { lossKey: 'loss' });
  const holdout = rows.length >= free + 6 ? options.holdout : 0;
  try {
    const result = fitLaw(form, data, {
      bootstrap: options.bootstrap,
      seed: options.seed,
      holdout,
      maxStarts: 2000,
      profile: options.profile ?? true,
    });
    return { name, title, result, rows };
  } catch (err) {
    // A design that cannot separate the parameters is a finding about the grid, not a crash.
    if (!(err instanceof LawsDesignError)) throw err;
    return { name, title, result: null, rows, skipped: err.message };
  }
}

export function analyzeStudy(all: StudyRow[], options: AnalyzeOptions): StudyAnalysis {
  const excluded = all.filter((r) => r.status !== 'done').map((r) => ({ id: r.id, reason: r.status }));
  const rows = all.filter((r) => r.status === 'done' && Number.isFinite(r.loss) && r.loss > 0);
  const train = rows.filter((r) => r.kind === 'train');
  // One PTQ method per fit: round-to-nearest when the grid has it (GPTQ follows a different curve).
  const methods = [...new Set(rows.filter((r) => r.kind === 'ptq').map((r) => r.labels.method))];
  const method = methods.includes('rtn') ? 'rtn' : methods[0];
  const ptq = rows.filter((r) => r.kind === 'ptq' && r.labels.method === method);
  const isFull = fullPrecision(train);
  const parts = (['w', 'a', 'kv'] as Part[]).filter((p) => varies(train, `P${p}` as keyof StudyRow));
  // Parts the grid only ever quantizes together (w = a = kv on every run) share one gamma: the data
  // cannot separate their effects, so the fit ties them instead of refusing the design.
  const together = partsMovingTogether(train, parts).map((g) => g.map((p) => `gamma_${p}`));

  const fits: LawFit[] = [
    attempt(
      'chinchilla',
      'Chinchilla on full-precision runs',
      train.filter(isFull),
      'chinchilla',
      undefined,
      options,
      ['N', 'D'],
    ),
  ];
  fits.push(
    parts.length > 0
      ? attempt(
          'precision',
          `Effective parameters N_eff (${parts.map((p) => `P_${p}`).join(', ')})`,
          train,
          'precision',
          parts,
          options,
          ['N', 'D'],
          together,
        )
      : {
          name: 'precision',
          title: 'Effective parameters N_eff',
          result: null,
          rows: [],
          skipped: 'the grid trains at one precision only',
        },
  );
  const fullBase = train.filter(isFull);
  const fullPtq = ptq.filter(isFull);
  fits.push(
    attempt(
      'ptq',
      'Post-training quantization delta_PTQ',
      [...fullBase, ...fullPtq],
      'ptq',
      undefined,
      options,
      ['N', 'D', 'Ppost'],
    ),
  );
  fits.push(
    parts.includes('w')
      ? attempt(
          'unified',
          'Unified law: quantized training, then PTQ',
          [...train, ...ptq],
          'unified',
          parts,
          options,
          ['N', 'D', 'Pw', 'Ppost'],
          together,
        )
      : {
          name: 'unified',
          title: 'Unified law',
          result: null,
          rows: [],
          skipped: 'the grid does not vary the weight precision',
        },
  );

  const precisionFit = fits.find((f) => f.name === 'precision')?.result;
  const cost: CostModel = options.cost ?? { name: 'compute' };
  const decision: StudyAnalysis['decision'] = { cost: describeCost(cost), model: cost };
  let optimalPrecision: StudyAnalysis['optimalPrecision'] = [];
  if (!precisionFit) decision.undecided = 'no precision law was fitted';
  else {
    const why = undecidable(precisionFit, { cost });
    if (why) decision.undecided = why;
    else {
      const search = { cost, precision: { min: 1, max: 16 } };
      optimalPrecision = precisionCurve(precisionFit, studyBudgets(train), search).map((o) => {
        const interval = optimumInterval(precisionFit, o.compute, search, 30);
        return interval ? { ...o, interval } : o;
      });
    }
  }
  return { rows: all, excluded, fits, optimalPrecision, decision };
}

/** Groups (of two or more) of training-precision parts whose bits are equal on every run. */
function partsMovingTogether(rows: readonly StudyRow[], parts: readonly Part[]): Part[][] {
  const groups: Part[][] = [];
  for (const p of parts) {
    const key = `P${p}` as 'Pw';
    const group = groups.find((g) => rows.every((r) => r[`P${g[0]}` as 'Pw'] === r[key]));
    if (group) group.push(p);
    else groups.push([p]);
  }
  return groups.filter((g) => g.length > 1);
}

/** Budgets from the largest run's compute (C = 6 N D at 16 bits) up three decades, and one below. */
export function studyBudgets(train: readonly StudyRow[]): number[] {
  const maxCompute = Math.max(...train.map((r) => 6 * r.N * r.D));
  return [0.1, 1, 10, 100, 1000].map((k) => k * maxCompute);
}
