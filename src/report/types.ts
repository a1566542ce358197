// The report's input, as plain data: run rows (from the store), fit results, fitted curves and predictions
// (from the laws module). Nothing here computes a fit; the report only draws and tabulates what it is given.

import type { FittedLaw } from '../laws/index.ts';

/** One run, flattened for analysis. Bits are the P of the laws (32 for fp32). */
export interface RunRow {
  id: string;
  kind: 'train' | 'ptq';
  status: 'pending' | 'running' | 'done' | 'failed' | 'diverged';
  /** Non-embedding parameters. */
  N: number;
  /** Training tokens. */
  D: number;
  /** Training precision: weights, activations, KV cache, as written and as bits. */
  precision: string;
  P_w: number;
  P_a: number;
  P_kv: number;
  /** PTQ runs: the post-training precision and method. */
  P_post?: number;
  ptqPrecision?: string;
  method?: string;
  seed: number;
  /** Validation loss; null when the run did not produce one (diverged, failed, pending). */
  loss: number | null;
  /** PTQ runs: loss after quantization minus loss before. */
  deltaPtq?: number | null;
}

/** A fitted parameter with its interval (e.g. a bootstrap 95% interval). */
export interface FitParameter {
  name: string;
  value: number;
  lo?: number;
  hi?: number;
  /** Why the bootstrap interval is not a measure of precision: 'at-bound' or 'collapsed'. */
  flag?: string;
  /** Profile-likelihood 95% interval; an open side is the bound or +-Infinity. */
  profileLo?: number;
  profileHi?: number;
}

export interface FitResult {
  /** e.g. 'Chinchilla (full precision)', 'N_eff (quantized training)', 'delta_PTQ', 'unified'. */
  form: string;
  parameters: FitParameter[];
  /** Number of runs the fit used. */
  runs: number;
  /** Relative error of predictions on held-out (largest) runs, if measured. */
  heldOutError?: number;
  /** Mean |log(fitted / observed)| and R² in log space on the fitted runs; describes = false: the form misses the data. */
  quality?: { meanAbsLog: number; r2: number; describes: boolean };
  /** The fit's diagnostics (design, identifiability, bounds), as sentences. */
  warnings?: string[];
}

/** One sentence of the findings, computed from the data, with its numbers (and interval where there is one). */
export interface Finding {
  /** Stable id: precision-order, delta-ptq-vs-D, held-out, optimal-precision, critical-data. */
  id: string;
  text: string;
  /** False when the data do not show the effect the finding is about (the text then says so). */
  shown: boolean;
}

/** The compute-optimal decision as the CLI prints it. */
export interface Decision {
  /** The cost model in words. */
  cost: string;
  /** Why the grid cannot decide, when it cannot. */
  undecided?: string;
  answers: {
    compute: number;
    N: number;
    D: number;
    P?: number;
    loss: number;
    /** Variables of the answer outside the measured ranges. */
    extrapolated: string[];
    /** The nearest answer with the precision inside the measured range. */
    inside?: { P?: number; loss: number };
  }[];
}

/** A fitted curve, pre-evaluated by the laws module on a grid of x values. */
export interface FittedCurve {
  panel: 'loss-vs-N' | 'loss-vs-D' | 'delta-ptq-vs-D' | 'loss-vs-bits' | 'critical-data-vs-N';
  /** The series it belongs to: a training precision for loss panels, a P_post for delta_PTQ. */
  series: string;
  points: { x: number; y: number }[];
}

/** The fit's prediction for one observed run. */
export interface FittedPoint {
  id: string;
  form: string;
  observed: number;
  predicted: number;
}

/** Predicted loss against training precision at one fixed compute budget. */
export interface PrecisionAtCompute {
  /** Compute in the cost model's units (N * D * P). */
  compute: number;
  points: { bits: number; loss: number; lo?: number; hi?: number }[];
  /** The compute-optimal training precision. */
  optimalBits: number;
}

export interface ReportInput {
  title: string;
  /** ISO time; set by the caller so reports are reproducible. */
  generatedAt: string;
  runs: RunRow[];
  fits: FitResult[];
  curves: FittedCurve[];
  fitted: FittedPoint[];
  precisionAtCompute: PrecisionAtCompute[];
  /** Free-form notes shown at the top (e.g. the grid, the corpus). */
  notes?: string[];
  /** Sentences of findings computed from the data; without them the report states no findings. */
  findings?: Finding[];
  decision?: Decision;
  /** The measured range [min, max] of each variable over the runs fitted. */
  ranges?: Record<string, [number, number]>;
  /** Fits for the explorer page (explorer.html, written with the report when present). */
  explorer?: { title: string; fit: FittedLaw }[];
  /**
   * Which runs the loss-against-bits chart shows (its curves are drawn for the same): 'all-parts', runs
   * with weights, activations and KV cache at one precision; 'weights', runs quantizing the weights alone.
   */
  bitsSlice?: 'all-parts' | 'weights';
  /** Extra sections after the findings (an experiment's own tables), HTML made by the caller from the data. */
  sections?: { id: string; title: string; html: string }[];
  /** Recipes, activation outliers and W8A8 / weight-only PTQ (Ahmadian et al.), when the study has them. */
  outliers?: OutlierReport;
}

/** One training run of an outlier study (Ahmadian et al.): its recipe, size, PTQ degradations and statistics. */
export interface OutlierRunRow {
  id: string;
  /** The recipe in words, e.g. "wd 0.1 · dropout 0 · clip 1 · bf16". */
  recipe: string;
  settings: { weightDecay: number; dropout: number; gradClip: number; dtype: string };
  N: number;
  valLoss: number | null;
  /** delta_PTQ per variant label (W8, W8A8, W8A8 + LLM.int8, W4, ...); null where the job did not finish. */
  deltas: Record<string, number | null>;
  outlierDims: number | null;
  actMaxAbs: number | null;
  actKurtosis: number | null;
  weightKurtosis: number | null;
  /** fp16 runs: steps skipped for overflowing gradients. */
  overflowSteps: number | null;
}

/** What changing one recipe setting does to one metric: the mean paired difference with its 95% interval. */
export interface RecipeEffect {
  setting: 'weightDecay' | 'dropout' | 'gradClip' | 'dtype';
  /** "weight decay 0 → 0.1". */
  change: string;
  metric: string;
  mean: number;
  lo: number;
  hi: number;
  /** Pairs of runs equal in everything else. */
  pairs: number;
}

export interface OutlierReport {
  /** Variant labels in column order. */
  variants: string[];
  runs: OutlierRunRow[];
  effects: RecipeEffect[];
  /** Sentences on the paper's claims, computed from the data. */
  claims: Finding[];
}
