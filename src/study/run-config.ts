// From a sweep's training job (model shape, token budget D, training precision, seed, shared settings) to the
// trainer's RunConfig. Sweep specs write model keys in snake_case (d_model) or camelCase (dModel).
import { ConfigError } from '../nn/config.ts';
import type { TrainConfig } from '../sweep/expand.ts';
import { type RunConfig, resolveRunConfig } from '../train/config.ts';

const modelKeys: Record<string, string> = {
  d_model: 'dModel',
  n_layers: 'nLayers',
  n_heads: 'nHeads',
  d_ff: 'dFf',
  tied_embeddings: 'tiedEmbeddings',
  rope_base: 'ropeBase',
};

/** Keys of the shared train section that configure data rather than optimization. */
const dataKeys = ['corpus', 'validation', 'vocabSize', 'tokenizer'];
/** Keys of the shared train section that configure the execution, not the run. */
const executionKeys = ['backend'];

export function runConfigFromJob(job: TrainConfig): RunConfig {
  const model: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(job.model)) model[modelKeys[key] ?? key] = value;
  const data: Record<string, unknown> = {};
  const train: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(job.train)) {
    if (dataKeys.includes(key)) data[key] = value;
    else if (!executionKeys.includes(key)) train[key] = value;
  }
  const { w, a, kv } = job.precision;
  model.precision = { ...((model.precision as object) ?? {}), weights: w, activations: a, kv };
  try {
    return resolveRunConfig({ model, data, train: { ...train, tokens: job.tokens, seed: job.seed } });
  } catch (e) {
    if (e instanceof ConfigError)
      throw new ConfigError(`job.${e.field}`, e.message.slice(e.field.length + 2));
    throw e;
  }
}

/** The backend a study's training job names (train.backend), or undefined for the engine's default. */
export function studyBackend(job: TrainConfig): string | undefined {
  const backend = job.train?.backend;
  return typeof backend === 'string' ? backend : undefined;
}
