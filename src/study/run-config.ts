// From a sweep's training job (model shape, token budget D, training precision, seed, shared settings) to the
// trainer's RunConfig. Keys keep the user's spelling (d_model or dModel), so errors name what the spec says.
import { ConfigError } from '../nn/config.ts';
import { camel } from '../nn/fields.ts';
import { recipeOf, type TrainConfig } from '../sweep/expand.ts';
import { dtypeProblem } from '../train/compute-dtype.ts';
import { type RunConfig, resolveRunConfig } from '../train/config.ts';

/** Keys of the shared train section that configure data rather than optimization. */
const dataKeys = ['corpus', 'validation', 'vocabSize', 'tokenizer'];
/** Keys of the shared train section that configure the execution, not the run. */
const executionKeys = ['backend'];

/** Keys of a recipe that belong to the model rather than to the optimization. */
const modelRecipeKeys = ['dropout'];

export function runConfigFromJob(job: TrainConfig): RunConfig {
  const data: Record<string, unknown> = {};
  const train: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(job.train)) {
    if (dataKeys.includes(camel(key))) data[key] = value;
    else if (!executionKeys.includes(key)) train[key] = value;
  }
  // The run's recipe (weight decay, dropout, gradient clipping, ...) over the shared settings.
  const modelRecipe: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(recipeOf(job) ?? {})) {
    if (modelRecipeKeys.includes(camel(key))) modelRecipe[key] = value;
    else train[key] = value;
  }
  const { w, a, kv } = job.precision;
  const model = {
    ...job.model,
    ...modelRecipe,
    precision: { ...((job.model.precision as object) ?? {}), weights: w, activations: a, kv },
  };
  let config: RunConfig;
  try {
    config = resolveRunConfig({ model, data, train: { ...train, tokens: job.tokens, seed: job.seed } });
  } catch (e) {
    if (e instanceof ConfigError)
      throw new ConfigError(e.issues.map((i) => ({ field: `job.${i.field}`, message: i.message })));
    throw e;
  }
  // A dtype the job's backend cannot compute in fails here, at spec load, not inside the job.
  const problem = dtypeProblem(config.train.dtype ?? 'fp32', studyBackend(job));
  if (problem) throw new ConfigError([{ field: 'job.train.dtype', message: problem }]);
  return config;
}

/** The backend a study's training job names (train.backend), or undefined for the engine's default. */
export function studyBackend(job: TrainConfig): string | undefined {
  const backend = job.train?.backend;
  return typeof backend === 'string' ? backend : undefined;
}
