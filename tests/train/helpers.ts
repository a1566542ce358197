// Shared small-run fixtures: one prepared dataset (vocabulary 512 on the embedded TinyStories slice).
import { type PreparedData, prepareData } from '../../src/data/index.ts';
import { type RunConfig, resolveRunConfig } from '../../src/train/config.ts';

let cached: PreparedData | undefined;
export function smallData(): PreparedData {
  cached ??= prepareData({ corpus: 'tinystories', vocabSize: 512 });
  return cached;
}

export function tinyConfig(
  overrides: { model?: Record<string, unknown>; train?: Record<string, unknown> } = {},
): RunConfig {
  return resolveRunConfig({
    model: { dModel: 32, nLayers: 2, nHeads: 2, context: 32, ...overrides.model },
    data: { vocabSize: 512 },
    train: {
      tokens: 16 * 32 * 40,
      batchSize: 16,
      evalTokens: 8192,
      checkpointEvery: 10,
      lr: 1e-2,
      warmupSteps: 5,
      ...overrides.train,
    },
  });
}
