// Does the form describe the data? The residual spread (log loss) against the data's own spread: a form
// whose residuals are as wide as the losses themselves explains nothing, whatever its parameters.

/** A fit explaining less than this share of the log-loss variance does not describe the data. */
export const MIN_R2 = 0.8;
/** Nor does one missing the points by more than this on average (10% of the loss). */
export const MAX_MEAN_ABS_LOG = 0.1;

export interface FitQuality {
  /** Root mean square and mean absolute log(pred / observed), training points. */
  readonly rmsLog: number;
  readonly meanAbsLog: number;
  /** Standard deviation of log(observed loss) over the training points. */
  readonly spreadLog: number;
  /** 1 - SSR / SST in log space; NaN when the losses do not vary. */
  readonly r2: number;
  /** False when r2 < MIN_R2 or meanAbsLog > MAX_MEAN_ABS_LOG. */
  readonly describes: boolean;
}

export function fitQuality(
  residuals: ArrayLike<number>,
  loss: Float64Array,
  weights: Float64Array,
): FitQuality {
  let n = 0;
  let ssr = 0;
  let sabs = 0;
  let mean = 0;
  for (let i = 0; i < loss.length; i++) {
    if (weights[i] <= 0) continue;
    n++;
    ssr += residuals[i] ** 2;
    sabs += Math.abs(residuals[i]);
    mean += Math.log(loss[i]);
  }
  mean /= n;
  let sst = 0;
  for (let i = 0; i < loss.length; i++) if (weights[i] > 0) sst += (Math.log(loss[i]) - mean) ** 2;
  const r2 = sst > 0 ? 1 - ssr / sst : Number.NaN;
  const meanAbsLog = sabs / n;
  return {
    rmsLog: Math.sqrt(ssr / n),
    meanAbsLog,
    spreadLog: Math.sqrt(sst / n),
    r2,
    describes: meanAbsLog <= MAX_MEAN_ABS_LOG && !(r2 < MIN_R2),
  };
}
