// The shape of a Transformer++ language model, validated before any work starts.
import { fullPrecision, type PrecisionConfig, precisionNames } from './precision.ts';

export interface ModelConfig {
  vocabSize: number;
  dModel: number;
  nLayers: number;
  nHeads: number;
  /** SwiGLU hidden size (default: 8/3 d_model rounded up to a multiple of 8). */
  dFf: number;
  /** Context length T. */
  context: number;
  tiedEmbeddings: boolean;
  ropeBase: number;
  dropout: number;
  precision: PrecisionConfig;
}

export class ConfigError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'ConfigError';
  }
}

export const defaultDff = (dModel: number) => Math.ceil((8 * dModel) / 3 / 8) * 8;

const modelKeys = [
  'vocabSize',
  'dModel',
  'nLayers',
  'nHeads',
  'dFf',
  'context',
  'tiedEmbeddings',
  'ropeBase',
  'dropout',
  'precision',
];
const precisionKeys = ['weights', 'activations', 'kv', 'weightGranularity', 'activationGranularity'];

function positiveInt(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    throw new ConfigError(field, `must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

export function unknownKeys(prefix: string, value: object, allowed: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key))
      throw new ConfigError(`${prefix}${key}`, `unknown key; allowed: ${allowed.join(', ')}`);
  }
}

/** Fills defaults and checks every field; throws ConfigError naming the first bad one. */
export function resolveModelConfig(
  raw: Partial<ModelConfig> & Record<string, unknown>,
  prefix = 'model.',
): ModelConfig {
  unknownKeys(prefix, raw, modelKeys);
  const dModel = positiveInt(`${prefix}dModel`, raw.dModel);
  const nHeads = positiveInt(`${prefix}nHeads`, raw.nHeads);
  if (dModel % nHeads !== 0)
    throw new ConfigError(`${prefix}nHeads`, `${nHeads} does not divide dModel ${dModel}`);
  if ((dModel / nHeads) % 2 !== 0)
    throw new ConfigError(
      `${prefix}nHeads`,
      `head size ${dModel / nHeads} must be even for rotary embeddings`,
    );
  const precision = { ...fullPrecision, ...(raw.precision ?? {}) };
  unknownKeys(`${prefix}precision.`, precision, precisionKeys);
  for (const part of ['weights', 'activations', 'kv'] as const) {
    if (!precisionNames.includes(precision[part])) {
      throw new ConfigError(
        `${prefix}precision.${part}`,
        `'${precision[part]}' is not a format; allowed: ${precisionNames.join(', ')}`,
      );
    }
  }
  const dropout = raw.dropout ?? 0;
  if (typeof dropout !== 'number' || dropout < 0 || dropout >= 1)
    throw new ConfigError(`${prefix}dropout`, `must be in [0, 1), got ${dropout}`);
  return {
    vocabSize: positiveInt(`${prefix}vocabSize`, raw.vocabSize),
    dModel,
    nLayers: positiveInt(`${prefix}nLayers`, raw.nLayers),
    nHeads,
    dFf: raw.dFf === undefined ? defaultDff(dModel) : positiveInt(`${prefix}dFf`, raw.dFf),
    context: positiveInt(`${prefix}context`, raw.context),
    tiedEmbeddings: raw.tiedEmbeddings ?? true,
    ropeBase: raw.ropeBase ?? 10000,
    dropout,
    precision,
  };
}

/** Non-embedding parameters N (what the scaling laws use) and the total. */
export function parameterCount(c: ModelConfig): { nonEmbedding: number; total: number } {
  const perLayer = 4 * c.dModel * c.dModel + 3 * c.dModel * c.dFf + 2 * c.dModel;
  const nonEmbedding = c.nLayers * perLayer + c.dModel;
  const embeddings = c.vocabSize * c.dModel * (c.tiedEmbeddings ? 1 : 2);
  return { nonEmbedding, total: nonEmbedding + embeddings };
}
