// Power-law fits of the quanta study, L(X) = (X_c / X)^alpha_X for X = N (parameters), D (training
// samples) or S (steps), through the laws module (Huber on log-loss, multi-start L-BFGS-B, bootstrap
// intervals), next to the exponents the quanta model predicts from the Zipf exponent alpha + 1:
// alpha_N = alpha, alpha_D = alpha_S = alpha / (alpha + 1).

import {
  datasetFromRows,
  expressionForm,
  type FitResult,
  fitLaw,
  quantaExponents,
} from '../../laws/index.ts';
import { QuantaError } from './errors.ts';

export type ScalingVariable = 'N' | 'D' | 'S';

export interface ScalingPoint {
  x: number;
  loss: number;
}

export interface ScalingFit {
  variable: ScalingVariable;
  points: ScalingPoint[];
  formula: string;
  exponent: number;
  /** Bootstrap percentile interval of the exponent (null without bootstrap). */
  interval: { lower: number; upper: number } | null;
  scale: number;
  predicted: number;
  warnings: string[];
}

export interface FitSettings {
  bootstrap: number;
  seed: number;
}

/** The exponent the quanta model predicts for a variable, from the Zipf exponent alpha + 1. */
export function predictedExponent(variable: ScalingVariable, zipfExponent: number): number {
  const q = quantaExponents(zipfExponent - 1);
  return variable === 'N' ? q.alphaN : q.alphaD;
}

export function fitScaling(
  variable: ScalingVariable,
  points: readonly ScalingPoint[],
  zipfExponent: number,
  settings: FitSettings,
): ScalingFit {
  const usable = points.filter((p) => p.x > 0 && p.loss > 0 && Number.isFinite(p.loss));
  if (usable.length < 3) {
    throw new QuantaError(
      `fit of L(${variable}): ${usable.length} usable points, need at least 3 (loss > 0)`,
    );
  }
  const scale = `${variable}_c`;
  const exponent = `alpha_${variable}`;
  const form = expressionForm(`(${scale}/${variable})^${exponent}`, {
    variables: [variable],
    linear: [exponent],
  });
  const data = datasetFromRows(
    usable.map((p) => ({ [variable]: p.x, loss: p.loss })),
    [variable],
  );
  const result: FitResult = fitLaw(form, data, {
    bootstrap: settings.bootstrap,
    seed: settings.seed,
    // Scales span many decades (N ~ 1e4, loss ~ 0.1): start X_c from 1e0 to 1e15.
    starts: { [scale]: [1, 1e3, 1e6, 1e10, 1e15], [exponent]: [0.05, 0.2, 0.5, 1] },
  });
  const iv = result.intervals?.[exponent];
  return {
    variable,
    points: usable.map((p) => ({ ...p })),
    formula: result.formula,
    exponent: result.params[exponent],
    interval: iv ? { lower: iv.lower, upper: iv.upper } : null,
    scale: result.params[scale],
    predicted: predictedExponent(variable, zipfExponent),
    warnings: result.warnings,
  };
}
