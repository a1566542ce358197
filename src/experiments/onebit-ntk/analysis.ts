// What the experiment concludes: power laws fitted to the final measurements of each sweep, 1-bit and
// full precision side by side, and the three claims of the theory checked against them.

import { fitPowerLaw, type Point, type PowerLawFit } from './power-law.ts';
import type { RunResult } from './train-pair.ts';
import type { Precision } from './two-layer.ts';

export interface SweepRuns {
  width: RunResult[];
  data: RunResult[];
  steps: RunResult[];
}

export type PerPrecision<T> = Record<Precision, T>;

export interface OnebitNtkFits {
  /** Final NTK drift vs width m. */
  ntkDriftVsWidth: PerPrecision<PowerLawFit>;
  /** Final mean |f_1bit - f_fp| on held-out inputs vs width. */
  genDiffVsWidth: PowerLawFit;
  /** Final training loss vs trainable parameters N (width sweep). */
  trainLossVsN: PerPrecision<PowerLawFit>;
  /** Held-out loss vs training-set size D (data sweep). */
  testLossVsD: PerPrecision<PowerLawFit>;
  /** Training loss vs compute C = 6 N D steps (step sweep). */
  trainLossVsC: PerPrecision<PowerLawFit>;
}

export interface OnebitNtkClaims {
  /** The 1-bit NTK drift falls with width: the upper end of its slope interval is below 0. */
  driftFallsWithWidth: boolean;
  /** The gap at the widest width is no larger than at the narrowest (means over seeds). */
  genDiffBounded: boolean;
  genDiffNarrowest: number;
  genDiffWidest: number;
  /** The 1-bit training loss at the widest width is below `smallLoss` (targets have unit variance, so
   *  the loss at init, with f = 0, is 0.5). */
  onebitLossSmall: boolean;
  onebitTrainLossWidest: number;
  smallLoss: number;
}

export interface OnebitNtkAnalysis {
  fits: OnebitNtkFits;
  claims: OnebitNtkClaims;
}

export const SMALL_LOSS = 0.01;

export function analyzeRuns(
  runs: SweepRuns,
  options: { bootstrap?: number; seed?: number } = {},
): OnebitNtkAnalysis {
  const fit = (points: Point[]) => fitPowerLaw(points, options);
  const both = (
    rows: RunResult[],
    x: (r: RunResult) => number,
    y: (r: RunResult, p: Precision) => number,
  ) => ({
    onebit: fit(rows.map((r) => ({ x: x(r), y: y(r, 'onebit') }))),
    fp: fit(rows.map((r) => ({ x: x(r), y: y(r, 'fp') }))),
  });
  const width = (r: RunResult) => r.config.width;
  const fits: OnebitNtkFits = {
    ntkDriftVsWidth: both(runs.width, width, (r, p) => r.final[p].ntkDrift),
    genDiffVsWidth: fit(runs.width.map((r) => ({ x: width(r), y: r.final.genDiff }))),
    trainLossVsN: both(
      runs.width,
      (r) => r.parameters,
      (r, p) => r.final[p].trainLoss,
    ),
    testLossVsD: both(
      runs.data,
      (r) => r.config.nTrain,
      (r, p) => r.final[p].testLoss,
    ),
    trainLossVsC: both(
      runs.steps,
      (r) => r.compute,
      (r, p) => r.final[p].trainLoss,
    ),
  };
  const widths = runs.width.map(width);
  const atWidth = (m: number, value: (r: RunResult) => number) =>
    mean(runs.width.filter((r) => width(r) === m).map(value));
  const narrowest = Math.min(...widths);
  const widest = Math.max(...widths);
  const genDiffNarrowest = atWidth(narrowest, (r) => r.final.genDiff);
  const genDiffWidest = atWidth(widest, (r) => r.final.genDiff);
  const onebitTrainLossWidest = atWidth(widest, (r) => r.final.onebit.trainLoss);
  return {
    fits,
    claims: {
      driftFallsWithWidth: fits.ntkDriftVsWidth.onebit.interval[1] < 0,
      genDiffBounded: genDiffWidest <= genDiffNarrowest,
      genDiffNarrowest,
      genDiffWidest,
      onebitLossSmall: onebitTrainLossWidest < SMALL_LOSS,
      onebitTrainLossWidest,
      smallLoss: SMALL_LOSS,
    },
  };
}

function mean(xs: number[]): number {
  return xs.reduce((s, x) => s + x, 0) / xs.length;
}
