// Calibration for GPTQ: the Hessian H = 2/n XᵀX of every linear layer's reconstruction loss, accumulated over
// batches of training text run through the full-precision model (XᵀX on the backend, one GEMM per layer).
import { BatchSampler, type TokenSource } from '../data/index.ts';
import type { ModelConfig } from '../nn/config.ts';
import { forward, type Params } from '../nn/transformer.ts';
import * as T from '../tensor/index.ts';

export function linearHessians(
  model: ModelConfig,
  params: Params,
  tokens: TokenSource,
  calibrationTokens: number,
  batchSize: number,
  seed: number,
): Map<string, Float64Array> {
  const sums = new Map<string, Float64Array>();
  let rows = 0;
  const sampler = new BatchSampler(tokens, batchSize, model.context, seed);
  const backend = params.values().next().value!.backend;
  for (let step = 0; rows < calibrationTokens; step++) {
    const batch = sampler.batch(step);
    rows += batchSize * model.context;
    T.tidy(() =>
      T.noGrad(() => {
        const inputs = T.tensor(batch.inputs, [batchSize, model.context], { dtype: 'i32', backend });
        forward(model, params, inputs, {
          train: false,
          onLinearInput: (name, x) => {
            const cols = x.shape[x.rank - 1];
            const flat = T.reshape(x, [-1, cols]);
            const xtx = T.matmul(flat, flat, { transA: true }).toArray();
            let h = sums.get(name);
            if (!h) sums.set(name, (h = new Float64Array(cols * cols)));
            for (let i = 0; i < h.length; i++) h[i] += xtx[i];
          },
        });
      }),
    );
  }
  for (const h of sums.values()) for (let i = 0; i < h.length; i++) h[i] *= 2 / rows;
  return sums;
}
