// A training run's whole configuration: model, data, optimization. Defaults are filled and every field is
// checked before any work, with errors that name the field.
import { ConfigError, type ModelConfig, resolveModelConfig, unknownKeys } from '../nn/config.ts';
import { bitnetPresets } from '../nn/precision.ts';

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

type RawRun = {
  model?: Record<string, unknown> & { bitnet?: string };
  data?: Partial<DataConfig>;
  train?: Partial<OptimConfig>;
};

function checkNumber(
  field: string,
  v: number,
  min: number,
  max = Number.POSITIVE_INFINITY,
  integer = false,
): void {
  if (
    typeof v !== 'number' ||
    !Number.isFinite(v) ||
    v < min ||
    v > max ||
    (integer && !Number.isInteger(v))
  ) {
    throw new ConfigError(
      field,
      `must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got ${JSON.stringify(v)}`,
    );
  }
}

export function resolveRunConfig(raw: RawRun): RunConfig {
  unknownKeys('', raw, ['model', 'data', 'train']);
  const data = { ...defaultData, ...(raw.data ?? {}) };
  unknownKeys('data.', data, ['corpus', 'validation', 'vocabSize', 'tokenizer']);
  checkNumber('data.vocabSize', data.vocabSize, 257, 65536, true);
  const train = { ...defaultOptim, ...(raw.train ?? {}) };
  unknownKeys('train.', train, Object.keys(defaultOptim));
  checkNumber('train.tokens', train.tokens, 1);
  checkNumber('train.batchSize', train.batchSize, 1, 1e6, true);
  checkNumber('train.lr', train.lr, 0, 100);
  checkNumber('train.minLrRatio', train.minLrRatio, 0, 1);
  checkNumber('train.warmupSteps', train.warmupSteps, 0, 1e9, true);
  checkNumber('train.weightDecay', train.weightDecay, 0, 10);
  checkNumber('train.gradClip', train.gradClip, 0);
  checkNumber('train.beta1', train.beta1, 0, 0.999999);
  checkNumber('train.beta2', train.beta2, 0, 0.999999);
  checkNumber('train.evalEvery', train.evalEvery, 0, 1e9, true);
  checkNumber('train.evalTokens', train.evalTokens, 1);
  checkNumber('train.checkpointEvery', train.checkpointEvery, 0, 1e9, true);
  checkNumber('train.seed', train.seed, 0, 2 ** 52, true);
  const { bitnet, ...modelRaw } = raw.model ?? {};
  if (bitnet !== undefined && !(bitnet in bitnetPresets)) {
    throw new ConfigError(
      'model.bitnet',
      `'${bitnet}' is not one of ${Object.keys(bitnetPresets).join(', ')}`,
    );
  }
  const withPreset = bitnet
    ? { ...modelRaw, precision: { ...bitnetPresets[bitnet], ...((modelRaw.precision as object) ?? {}) } }
    : modelRaw;
  const model = resolveModelConfig({ vocabSize: data.vocabSize, ...withPreset }, 'model.');
  if (model.vocabSize !== data.vocabSize) {
    throw new ConfigError(
      'model.vocabSize',
      `${model.vocabSize} differs from data.vocabSize ${data.vocabSize}; set only data.vocabSize`,
    );
  }
  return { model, data, train };
}

export function stepsOf(c: RunConfig): number {
  return Math.ceil(c.train.tokens / (c.train.batchSize * c.model.context));
}
