// Text generation from a trained model: temperature and top-k sampling, one token at a time over the last
// `context` tokens (no KV cache: models here are small, and this keeps the model code single-path).

import { philoxFill } from '../base/philox.ts';
import type { ModelConfig } from '../nn/config.ts';
import { forward, type Params } from '../nn/transformer.ts';
import * as T from '../tensor/index.ts';

export interface SampleOptions {
  maxTokens: number;
  temperature: number;
  topK: number;
  seed: number;
  stopToken?: number;
}

export function sampleTokens(
  model: ModelConfig,
  params: Params,
  prompt: number[],
  options: SampleOptions,
): number[] {
  const tokens = prompt.slice();
  const uniform = new Float64Array(1);
  const backend = params.values().next().value!.backend;
  for (let i = 0; i < options.maxTokens; i++) {
    const window = tokens.slice(-model.context);
    const logits = T.tidy(() =>
      T.noGrad(() => {
        const input = T.tensor(window, [1, window.length], { dtype: 'i32', backend });
        const all = forward(model, params, input, { train: false });
        return T.slice(all, 1, window.length - 1, window.length).toArray();
      }),
    );
    philoxFill(uniform, 1, 'uniform', options.seed, i);
    const next = pick(logits, options.temperature, options.topK, uniform[0]);
    if (next === options.stopToken) break;
    tokens.push(next);
  }
  return tokens.slice(prompt.length);
}

/** Draws a token from softmax(logits / temperature) restricted to the top k, using the uniform number u. */
export function pick(logits: ArrayLike<number>, temperature: number, topK: number, u: number): number {
  const order = Array.from(logits, (l, i) => [l, i] as const).sort((a, b) => b[0] - a[0]);
  if (temperature <= 0) return order[0][1];
  const top = order.slice(0, Math.max(1, topK));
  const weights = top.map(([l]) => Math.exp((l - top[0][0]) / temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  let acc = 0;
  for (let i = 0; i < top.length; i++) {
    acc += weights[i] / total;
    if (u < acc) return top[i][1];
  }
  return top[top.length - 1][1];
}
