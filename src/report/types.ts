// The report's input, as plain data: run rows (from the store), fit results, fitted curves and predictions
// (from the laws module). Nothing here computes a fit; the report only draws and tabulates what it is given.

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
}

export interface FitResult {
  /** e.g. 'Chinchilla (full precision)', 'N_eff (quantized training)', 'delta_PTQ', 'unified'. */
  form: string;
  parameters: FitParameter[];
  /** Number of runs the fit used. */
  runs: number;
  /** Relative error of predictions on held-out (largest) runs, if measured. */
  heldOutError?: number;
}

/** A fitted curve, pre-evaluated by the laws module on a grid of x values. */
export interface FittedCurve {
  panel: 'loss-vs-N' | 'loss-vs-D' | 'delta-ptq-vs-D';
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
}
