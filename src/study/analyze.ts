// The precision study's analysis: from finished runs to fitted laws. Chinchilla on the full-precision runs,
// Kumar's N_eff form on the quantized-training runs, delta_PTQ on the post-training results, and the unified
// law where the grid varies both; each with bootstrap intervals and held-out error on the largest runs.
// Diverged runs are listed and left out.
import {
  datasetFromRows,
  type FitResult,
  fitLaw,
  formByName,
  type Part,
  precisionCurve,
  type Row,
} from '../laws/index.ts';

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
  /** Loss-optimal training precision against compute, from the precision fit (C = 6 N D P / 16). */
  optimalPrecision: { compute: number; N: number; D: number; P?: number; loss: number }[];
}

export interface AnalyzeOptions {
  bootstrap: number;
  seed: number;
  /** Fraction of the largest runs held out to measure prediction error. */
  holdout: number;
  /** Fit one exponent for N and D (alpha = beta), as Kumar et al. do; small grids cannot separate them. */
  tieExponents?: boolean;
}

const isFull = (r: StudyRow) => r.labels.w === 'fp32' && r.labels.a === 'fp32' && r.labels.kv === 'fp32';
const varies = (rows: StudyRow[], key: keyof StudyRow) => new Set(rows.map((r) => r[key])).size > 1;

function attempt(
  name: LawFit['name'],
  title: string,
  rows: StudyRow[],
  formName: string,
  parts: Part[] | undefined,
  options: AnalyzeOptions,
  needs: (keyof StudyRow)[],
): LawFit {
  const tie = options.tieExponents === false ? [] : [['alpha', 'beta']];
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
  const result = fitLaw(form, data, {
    bootstrap: options.bootstrap,
    seed: options.seed,
    holdout,
    maxStarts: 2000,
  });
  return { name, title, result, rows };
}

export function analyzeStudy(all: StudyRow[], options: AnalyzeOptions): StudyAnalysis {
  const excluded = all.filter((r) => r.status !== 'done').map((r) => ({ id: r.id, reason: r.status }));
  const rows = all.filter((r) => r.status === 'done' && Number.isFinite(r.loss) && r.loss > 0);
  const train = rows.filter((r) => r.kind === 'train');
  // One PTQ method per fit: round-to-nearest when the grid has it (GPTQ follows a different curve).
  const methods = [...new Set(rows.filter((r) => r.kind === 'ptq').map((r) => r.labels.method))];
  const method = methods.includes('rtn') ? 'rtn' : methods[0];
  const ptq = rows.filter((r) => r.kind === 'ptq' && r.labels.method === method);
  const parts = (['w', 'a', 'kv'] as Part[]).filter((p) => varies(train, `P${p}` as keyof StudyRow));

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
  const fullPtq = ptq.filter((r) => r.labels.w === 'fp32' && r.labels.a === 'fp32' && r.labels.kv === 'fp32');
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
          ['w'],
          options,
          ['N', 'D', 'Pw', 'Ppost'],
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
  let optimalPrecision: StudyAnalysis['optimalPrecision'] = [];
  if (precisionFit) {
    const maxCompute = Math.max(...train.map((r) => 6 * r.N * r.D));
    const budgets = [0.1, 1, 10, 100, 1000].map((k) => k * maxCompute);
    optimalPrecision = precisionCurve(precisionFit, budgets, { precision: { min: 1, max: 16 } }).map((o) => ({
      ...o,
    }));
  }
  return { rows: all, excluded, fits, optimalPrecision };
}
