// One training forward and backward of a small model on a named backend, on a fixed batch and fixed dropout
// masks: what the model tests compare between two paths (fused and unfused kernels, productsRound on and off).
import type { ModelConfig } from '../../src/nn/config.ts';
import { type ForwardOptions, initParams, lossOf } from '../../src/nn/transformer.ts';
import * as T from '../../src/tensor/index.ts';

export interface LossAndGrads {
  loss: number;
  /** Every parameter's gradient, by name. */
  grads: Record<string, number[]>;
}

export function lossAndGrads(
  config: ModelConfig,
  backendName: string,
  options: Omit<ForwardOptions, 'train'> = {},
  { batch = 3, paramSeed = 7 } = {},
): LossAndGrads {
  const backend = T.setDefaultBackend(backendName);
  const params = initParams(config, paramSeed);
  const [V, context] = [config.vocabSize, config.context];
  const tokens = Array.from({ length: batch * context }, (_, i) => (i * 17 + 5) % V);
  const targets = Array.from({ length: batch * context }, (_, i) => (i * 29 + 3) % V);
  T.manualSeed(11); // the same dropout masks in every run
  const result = T.tidy(() => {
    const x = T.tensor(tokens, [batch, context], { dtype: 'i32', backend });
    const y = T.tensor(targets, [batch, context], { dtype: 'i32', backend });
    const loss = lossOf(config, params, x, y, { train: true, ...options });
    T.backward(loss);
    return {
      loss: loss.item(),
      grads: Object.fromEntries([...params].map(([k, p]) => [k, Array.from(p.grad!.toArray())])),
    };
  });
  for (const p of params.values()) p.dispose();
  return result;
}
