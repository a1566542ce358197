// The laws module's public surface: forms, fitting, prediction and decisions. Browser-safe
// (file access lives in io-node.ts, which this file does not export).

export type { Constraints } from './constrain.ts';
export { constrainForm } from './constrain.ts';
export type { CostModel, CostModelName } from './cost.ts';
export { describeCost, FORMAT_BITS, HARDWARE } from './cost.ts';
export type { Dataset, Row } from './dataset.ts';
export { datasetFromRows, KNOWN_VARIABLES, selectPoints } from './dataset.ts';
export type { DesignIssue } from './design.ts';
export { designIssues } from './design.ts';
export { EPOCH_BOOTSTRAP, EPOCH_SINGLE_FIT, epochChinchillaDataset } from './epoch.ts';
export {
  ExpressionError,
  LawsDesignError,
  LawsError,
  LawsInputError,
  LawsOptionError,
  LawsUndecidedError,
} from './errors.ts';
export { parseExpression } from './expr/parse.ts';
export type { FitOptions, FitResult, HoldoutReport, Interval, ProfileInterval } from './fit.ts';
export { fitLaw } from './fit.ts';
export type { FloatBits } from './float-format.ts';
export { floatBits, withFloatColumns } from './float-format.ts';
export type { FloatSplit, FloatSplitAnswer } from './float-split.ts';
export { bestFloatSplit } from './float-split.ts';
export type { BoundForm, Form, FormSpec, ParamSpec } from './form.ts';
export { chinchillaForm, EPOCH_GRID } from './forms/chinchilla.ts';
export { efficiencyForm, efficiencyName } from './forms/efficiency.ts';
export { expressionForm } from './forms/expression.ts';
export type { FloatOptions } from './forms/float.ts';
export { floatCriticalData, floatForm } from './forms/float.ts';
export { kaplanForm } from './forms/kaplan.ts';
export type { KumarKind, Part } from './forms/kumar.ts';
export { kumarForm } from './forms/kumar.ts';
export { qatCriticalData, qatForm } from './forms/qat.ts';
export type { FormChoice } from './forms/registry.ts';
export { FORM_NAMES, formByName, formFromSpec } from './forms/registry.ts';
export { twoPhaseForm } from './forms/two-phase.ts';
export { HuberObjective, huber } from './huber.ts';
export type { MinimizeOptions, MinimizeResult, ObjectiveFn } from './lbfgsb.ts';
export { LbfgsbSolver, minimizeLbfgsb } from './lbfgsb.ts';
export type {
  Answer,
  ComputeOptimalOptions,
  ComputeOptimum,
  CriticalData,
  Extrapolation,
} from './optimize.ts';
export {
  computeOptimal,
  criticalDataSize,
  optimumInterval,
  precisionCurve,
  undecidable,
} from './optimize.ts';
export type { FittedLaw, Point, Prediction } from './predict.ts';
export { LossModel, predictLoss } from './predict.ts';
export type { QatFraction } from './qat-fraction.ts';
export { optimalQatFraction, qatComputeOptimal } from './qat-fraction.ts';
export type { FitQuality } from './quality.ts';
export { fitQuality } from './quality.ts';
export { quantaExponents, quantaFromDataExponent, quantaFromParamExponent } from './quanta.ts';
export { seededRng } from './rng.ts';
export { parseCsv, parseJsonl } from './table.ts';
