// Activation quantization after training (W8A8 and kin): every linear layer's input fake-quantized with one
// dynamic scale per token (row), optionally with LLM.int8's decomposition: the input dimensions that calibration
// found at or above the outlier threshold stay in full precision (with their weight columns, see
// quantizeModel's keepColumns) and only the rest is quantized. Tensor ops only, so every backend runs it.
import type { Backend } from '../backends/backend.ts';
import { BatchSampler, type TokenSource } from '../data/index.ts';
import type { ModelConfig } from '../nn/config.ts';
import { type ForwardOptions, forward, type Params } from '../nn/transformer.ts';
import type { FakeQuantSpec } from '../numerics/spec.ts';
import { quantSpec } from '../numerics/spec.ts';
import type { Tensor } from '../tensor/index.ts';
import * as T from '../tensor/index.ts';

/** The per-token spec of an activation format (formats with their own blocks, MX and NF4, keep them). */
export function perTokenSpec(format: string): FakeQuantSpec {
  const base = quantSpec(format);
  if (base.granularity.kind !== 'tensor' || base.scale.kind === 'none') return base;
  return quantSpec(format, { granularity: { kind: 'row' } });
}

/**
 * The input dimensions of every linear layer whose |x| reaches `threshold` on the calibration tokens (training
 * split): per-dimension maxima reduced on the backend, one read per layer at the end.
 */
export function outlierColumns(
  model: ModelConfig,
  params: Params,
  tokens: TokenSource,
  calibrationTokens: number,
  batchSize: number,
  seed: number,
  threshold: number,
): Map<string, number[]> {
  const maxima = new Map<string, Tensor>();
  const sampler = new BatchSampler(tokens, batchSize, model.context, seed);
  const backend = params.values().next().value!.backend;
  try {
    for (let step = 0, rows = 0; rows < calibrationTokens; step++, rows += batchSize * model.context) {
      const batch = sampler.batch(step);
      T.tidy(() =>
        T.noGrad(() => {
          const inputs = T.tensor(batch.inputs, [batchSize, model.context], { dtype: 'i32', backend });
          forward(model, params, inputs, {
            train: false,
            onLinearInput: (name, x) => {
              const colMax = T.max(T.abs(T.reshape(x, [-1, x.shape[x.rank - 1]])), 0);
              const before = maxima.get(name);
              maxima.set(name, (before ? T.maximum(before, colMax) : colMax).keep());
              before?.dispose();
            },
          });
        }),
      );
    }
    const columns = new Map<string, number[]>();
    for (const [name, m] of maxima) {
      const dims: number[] = [];
      m.toArray().forEach((v, d) => {
        if (v >= threshold) dims.push(d);
      });
      columns.set(name, dims);
    }
    return columns;
  } finally {
    for (const m of maxima.values()) m.dispose();
  }
}

/** Forward hooks that quantize every linear input; call dispose() when done. */
export interface ActivationQuantizer {
  hooks: Pick<ForwardOptions, 'linearInput'>;
  dispose(): void;
}

export function activationQuantizer(
  format: string,
  keep: Map<string, number[]> | null,
  backend: Backend,
): ActivationQuantizer {
  const spec = perTokenSpec(format);
  // Per layer, a 0/1 mask of the kept (outlier) dimensions, made once.
  const masks = new Map<string, Tensor>();
  const maskOf = (name: string, width: number): Tensor | null => {
    const dims = keep?.get(name);
    if (!dims || dims.length === 0) return null;
    let mask = masks.get(name);
    if (!mask) {
      const values = new Float32Array(width);
      for (const d of dims) values[d] = 1;
      mask = T.tensor(values, [width], { backend }).keep();
      masks.set(name, mask);
    }
    return mask;
  };
  return {
    hooks: {
      linearInput: (name, x) => {
        const mask = maskOf(name, x.shape[x.rank - 1]);
        if (!mask) return T.fakeQuant(x, spec);
        // x = outliers (full precision) + the rest (quantized, its per-token scale set by the rest alone).
        const outliers = T.mul(x, mask);
        return T.add(T.fakeQuant(T.sub(x, outliers), spec), outliers);
      },
    },
    dispose: () => {
      for (const m of masks.values()) m.dispose();
    },
  };
}
