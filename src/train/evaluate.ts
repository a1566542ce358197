// Validation loss: mean next-token cross-entropy (nats/token) over the validation tokens, every token once.

import type { TokenArray } from '../data/index.ts';
import { validationBatches } from '../data/index.ts';
import type { ModelConfig } from '../nn/config.ts';
import { type ActivationStats, LinearInputStats, type OutlierCriterion } from '../nn/outliers.ts';
import { type ForwardOptions, forward, type Params } from '../nn/transformer.ts';
import * as T from '../tensor/index.ts';

export function evaluate(
  model: ModelConfig,
  params: Params,
  tokens: TokenArray,
  batchSize: number,
  maxTokens: number,
  /** Hooks of the forward (activation quantization after training); evaluation mode always. */
  hooks: Omit<ForwardOptions, 'train'> = {},
): number {
  const usable = tokens.subarray(0, Math.min(tokens.length, maxTokens + 1));
  let total = 0;
  let count = 0;
  for (const batch of validationBatches(usable, batchSize, model.context)) {
    // Rows past batch.rows are padding: their targets are ignored (-1).
    batch.targets.fill(-1, batch.rows * model.context);
    T.tidy(() =>
      T.noGrad(() => {
        const backend = params.values().next().value!.backend;
        const inputs = T.tensor(batch.inputs, [batchSize, model.context], { dtype: 'i32', backend });
        const targets = T.tensor(batch.targets, [batchSize, model.context], { dtype: 'i32', backend });
        const losses = T.crossEntropy(
          forward(model, params, inputs, { ...hooks, train: false }),
          targets,
          'none',
        );
        total += T.sum(losses).item();
        count += batch.rows * model.context;
      }),
    );
  }
  return total / count;
}

/** Activation statistics of the first validation batch, in evaluation mode (one forward, one read). */
export function activationStats(
  model: ModelConfig,
  params: Params,
  tokens: TokenArray,
  batchSize: number,
  criterion: OutlierCriterion,
): ActivationStats {
  const usable = tokens.subarray(0, Math.min(tokens.length, batchSize * model.context + 1));
  const batch = validationBatches(usable, batchSize, model.context).next().value;
  const collector = new LinearInputStats(criterion);
  if (!batch) return collector.read();
  const backend = params.values().next().value!.backend;
  T.tidy(() =>
    T.noGrad(() => {
      // Padding rows (a split shorter than a batch) are zeros: only the real rows are measured.
      const inputs = T.tensor(
        batch.inputs.subarray(0, batch.rows * model.context),
        [batch.rows, model.context],
        {
          dtype: 'i32',
          backend,
        },
      );
      forward(model, params, inputs, { train: false, onLinearInput: collector.observe });
    }),
  );
  return collector.read();
}
