// A training run's whole configuration: model, data, optimization. Defaults are filled and every field is
// checked before any work, with errors that name the field.
import { ConfigError, type ConfigIssue, checkModelConfig, type ModelConfig } from '../nn/config.ts';
import { Fields } from '../nn/fields.ts';
import { type LowPrecisionMode, lowPrecisionModes } from '../nn/low-precision.ts';
import { llmInt8Criterion, type OutlierCriterion } from '../nn/outliers.ts';
import { type ComputeDtype, computeDtypes } from './compute-dtype.ts';

export interface DataConfig {
  /** 'tinystories' (embedded), 'tinyshakespeare', a .txt file, a folder, or a .bin of tokens. */
  corpus: string;
  validation?: string;
  vocabSize: number;
  /** A tokenizer.json to use instead of training one. */
  tokenizer?: string;
}

export interface OptimConfig {
  /** Token budget D: steps = ceil(tokens / (batchSize * context)). */
  tokens: number;
  batchSize: number;
  lr: number;
  minLrRatio: number;
  warmupSteps: number;
  weightDecay: number;
  gradClip: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Validation every k steps (0: only at the end) on at most evalTokens tokens. */
  evalEvery: number;
  evalTokens: number;
  checkpointEvery: number;
  seed: number;
  // Optional settings: absent unless given, so configs (and their hashes) written before they existed stay
  // the same.
  /** Compute dtype (absent: fp32). */
  dtype?: ComputeDtype;
  /** Where low-precision linear layers compute (src/nn/low-precision.ts; absent: 'auto'). */
  lowPrecisionCompute?: LowPrecisionMode;
  /** fp16: initial loss scale and good steps before it doubles (src/train/loss-scale.ts). */
  lossScale?: number;
  lossScaleWindow?: number;
  /** Activation statistics every k steps during training (absent or 0: at the end only). */
  statsEvery?: number;
  /** The outlier criterion (src/nn/outliers.ts; LLM.int8's 6, 25%, 6% by default). */
  outlierThreshold?: number;
  outlierLayerFraction?: number;
  outlierPositionFraction?: number;
}

export interface RunConfig {
  model: ModelConfig;
  data: DataConfig;
  train: OptimConfig;
}

export const defaultOptim: OptimConfig = {
  tokens: 1_000_000,
  batchSize: 16,
  lr: 3e-3,
  minLrRatio: 0.1,
  warmupSteps: 20,
  weightDecay: 0.1,
  gradClip: 1,
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-8,
  evalEvery: 0,
  evalTokens: 65_536,
  checkpointEvery: 100,
  seed: 0,
};

export const defaultData: DataConfig = { corpus: 'tinystories', vocabSize: 2048 };

/**
 * Fills defaults and checks every field of a run config (sections model, data, train; keys camelCase or
 * snake_case). Throws one ConfigError listing every problem by the name the user wrote, and the file when
 * given.
 */
export function resolveRunConfig(raw: unknown, file?: string): RunConfig {
  const issues: ConfigIssue[] = [];
  const top = new Fields(raw, '', ['model', 'data', 'train'], issues);

  const d = new Fields(top.get('data'), `${top.name('data')}.`, Object.keys(dataKeys), issues);
  const data: DataConfig = {
    corpus: d.string('corpus', defaultData.corpus) ?? '',
    // An invalid vocabulary is reported once, here; the model is checked with the default instead.
    vocabSize: d.number('vocabSize', defaultData.vocabSize, 257, 65536, true) ?? defaultData.vocabSize,
  };
  for (const key of ['validation', 'tokenizer'] as const)
    if (d.has(key)) data[key] = d.string(key, undefined);

  const t = new Fields(
    top.get('train'),
    `${top.name('train')}.`,
    [...Object.keys(optimRanges), ...Object.keys(optionalRanges), 'dtype', 'lowPrecisionCompute'],
    issues,
  );
  const train = { ...defaultOptim };
  for (const [key, [min, max, integer]] of Object.entries(optimRanges) as [RequiredKey, Range][]) {
    train[key] = t.number(key, defaultOptim[key], min, max, integer) ?? 0;
  }
  for (const [key, [min, max, integer]] of Object.entries(optionalRanges) as [OptionalKey, Range][]) {
    if (t.has(key)) train[key] = t.number(key, undefined, min, max, integer);
  }
  if (t.has('dtype')) train.dtype = t.string('dtype', undefined, computeDtypes) as ComputeDtype | undefined;
  if (t.has('lowPrecisionCompute'))
    train.lowPrecisionCompute = t.string('lowPrecisionCompute', undefined, lowPrecisionModes) as
      | LowPrecisionMode
      | undefined;

  const modelRaw = top.get('model');
  const m = new Fields(modelRaw, '', ['vocabSize'], []); // only to see whether the user set vocabSize
  if (m.has('vocabSize') && m.get('vocabSize') !== data.vocabSize) {
    issues.push({
      field: `${top.name('model')}.${m.name('vocabSize')}`,
      message: `${JSON.stringify(m.get('vocabSize'))} differs from ${d.name('vocabSize')} ${data.vocabSize}; set only ${d.name('vocabSize')}`,
    });
  }
  const withVocab =
    typeof modelRaw === 'object' && modelRaw !== null && !Array.isArray(modelRaw) && !m.has('vocabSize')
      ? { ...modelRaw, vocabSize: data.vocabSize }
      : modelRaw;
  const model = checkModelConfig(withVocab, `${top.name('model')}.`, issues);
  if (issues.length > 0 || !model) throw new ConfigError(issues, '', file);
  return { model, data, train };
}

type Range = [min: number, max: number, integer: boolean];

const dataKeys = { corpus: 1, validation: 1, vocabSize: 1, tokenizer: 1 };

type OptionalKey = Exclude<keyof OptimConfig, 'dtype' | 'lowPrecisionCompute'> &
  (
    | 'lossScale'
    | 'lossScaleWindow'
    | 'statsEvery'
    | 'outlierThreshold'
    | 'outlierLayerFraction'
    | 'outlierPositionFraction'
  );
type RequiredKey = Exclude<keyof OptimConfig, OptionalKey | 'dtype' | 'lowPrecisionCompute'>;

const optionalRanges: Record<OptionalKey, Range> = {
  lossScale: [2 ** -24, 2 ** 24, false],
  lossScaleWindow: [1, 1e9, true],
  statsEvery: [0, 1e9, true],
  outlierThreshold: [0, Number.MAX_VALUE, false],
  outlierLayerFraction: [0, 1, false],
  outlierPositionFraction: [0, 1, false],
};

const optimRanges: Record<RequiredKey, Range> = {
  tokens: [1, Number.MAX_SAFE_INTEGER, false],
  batchSize: [1, 1e6, true],
  lr: [0, 100, false],
  minLrRatio: [0, 1, false],
  warmupSteps: [0, 1e9, true],
  weightDecay: [0, 10, false],
  gradClip: [0, Number.POSITIVE_INFINITY, false],
  beta1: [0, 0.999999, false],
  beta2: [0, 0.999999, false],
  eps: [Number.MIN_VALUE, 1, false],
  evalEvery: [0, 1e9, true],
  evalTokens: [1, Number.MAX_SAFE_INTEGER, false],
  checkpointEvery: [0, 1e9, true],
  seed: [0, 2 ** 52, true],
};

export function stepsOf(c: RunConfig): number {
  return Math.ceil(c.train.tokens / (c.train.batchSize * c.model.context));
}

/** The run's outlier criterion: its own thresholds over LLM.int8's. */
export const criterionOf = (t: OptimConfig): OutlierCriterion => ({
  threshold: t.outlierThreshold ?? llmInt8Criterion.threshold,
  layerFraction: t.outlierLayerFraction ?? llmInt8Criterion.layerFraction,
  positionFraction: t.outlierPositionFraction ?? llmInt8Criterion.positionFraction,
});
