// Calibration for GPTQ: the Hessian H = 2/n XᵀX of every linear layer's reconstruction loss, accumulated over
// batches of training text run through the full-precision model. XᵀX is summed on the backend (one GEMM and
// one add per layer and batch) and read to the host once per layer at the end: on a GPU, a read per batch
// and layer would stall the device hundreds of times per job.
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
  const sums = new Map<string, T.Tensor>();
  let rows = 0;
  const sampler = new BatchSampler(tokens, batchSize, model.context, seed);
  const backend = params.values().next().value!.backend;
  try {
    for (let step = 0; rows < calibrationTokens; step++) {
      const batch = sampler.batch(step);
      rows += batchSize * model.context;
      T.tidy(() =>
        T.noGrad(() => {
          const inputs = T.tensor(batch.inputs, [batchSize, model.context], { dtype: 'i32', backend });
          forward(model, params, inputs, {
            train: false,
            onLinearInput: (name, x) => {
              const flat = T.reshape(x, [-1, x.shape[x.rank - 1]]);
              const xtx = T.matmul(flat, flat, { transA: true });
              const before = sums.get(name);
              sums.set(name, (before ? T.add(before, xtx) : xtx).keep());
              before?.dispose();
            },
          });
        }),
      );
    }
    const hessians = new Map<string, Float64Array>();
    for (const [name, sum] of sums)
      hessians.set(
        name,
        Float64Array.from(sum.toArray(), (v) => (v * 2) / rows),
      );
    return hessians;
  } finally {
    for (const sum of sums.values()) sum.dispose();
  }
}
