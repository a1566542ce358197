// Continuing to train a loaded Hugging Face model at a precision (QAT fine-tuning) through bitscale's own
// trainer: the loaded weights become the run's starting point (train's initFrom), the model's config (with its
// `arch` options) and the requested precision its model section, the folder's tokenizer.json its tokenizer.
// The result is an ordinary run folder: resumable, and `bitscale eval` / `ptq` / `export` take it.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { PrecisionConfig } from '../nn/precision.ts';
import { saveCheckpoint } from '../train/checkpoint.ts';
import { type RunConfig, resolveRunConfig } from '../train/config.ts';
import { type TrainOptions, type TrainSummary, train } from '../train/trainer.ts';
import { HfModelError } from './errors.ts';
import { loadHfModel } from './load.ts';

export interface FinetuneOptions {
  /** Training text (a .txt file or folder, as a run's data.corpus). */
  corpus: string;
  validation?: string;
  precision: Partial<PrecisionConfig>;
  /** Run config `train` fields (tokens, lr, batchSize, ...). */
  train?: Record<string, unknown>;
  backend?: string;
  onProgress?: TrainOptions['onProgress'];
}

/** The run config of a fine-tune of `modelDir` (checked like any run config). */
export function finetuneConfig(
  modelDir: string,
  options: FinetuneOptions,
  vocabSize: number,
  model: RunConfig['model'],
): RunConfig {
  const { precision: _full, ...shape } = model;
  return resolveRunConfig({
    model: {
      ...shape,
      precision: { weights: 'fp32', activations: 'fp32', kv: 'fp32', ...options.precision },
    },
    data: {
      corpus: options.corpus,
      ...(options.validation === undefined ? {} : { validation: options.validation }),
      tokenizer: join(modelDir, 'tokenizer.json'),
      vocabSize,
    },
    train: { lr: 1e-4, warmupSteps: 0, weightDecay: 0, ...options.train },
  });
}

export function finetuneHf(modelDir: string, outDir: string, options: FinetuneOptions): TrainSummary {
  const loaded = loadHfModel(modelDir, { backend: options.backend });
  if (!loaded.tokenizer)
    throw new HfModelError(modelDir, 'tokenizer.json', 'missing: a fine-tune needs the tokenizer');
  const config = finetuneConfig(modelDir, options, loaded.tokenizer.vocabSize, loaded.config);
  mkdirSync(outDir, { recursive: true });
  const initFrom = join(outDir, 'init.safetensors');
  saveCheckpoint(initFrom, loaded.params, null, { step: 0, configHash: '' });
  for (const p of loaded.params.values()) p.dispose();
  return train(config, { outDir, backend: options.backend, initFrom, onProgress: options.onProgress });
}
