// Validation loss: mean next-token cross-entropy (nats/token) over the validation tokens, every token once.

import type { TokenArray } from '../data/index.ts';
import { validationBatches } from '../data/index.ts';
import type { ModelConfig } from '../nn/config.ts';
import { forward, type Params } from '../nn/transformer.ts';
import * as T from '../tensor/index.ts';

export function evaluate(
  model: ModelConfig,
  params: Params,
  tokens: TokenArray,
  batchSize: number,
  maxTokens: number,
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
        const losses = T.crossEntropy(forward(model, params, inputs, { train: false }), targets, 'none');
        total += T.sum(losses).item();
        count += batch.rows * model.context;
      }),
    );
  }
  return total / count;
}
