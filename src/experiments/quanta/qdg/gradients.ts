// Per-token gradients of a language model (the "QDG" input): for each sampled position of a sequence, the
// gradient of that one token's loss with respect to the chosen parameters, flattened into one vector.
// One forward per sequence; then one backward per sampled token, seeded with a one-hot output gradient
// on the per-position losses (crossEntropy 'none'), so the forward is shared by all its tokens.

import type { ModelConfig } from '../../../nn/config.ts';
import { forward, type Params } from '../../../nn/transformer.ts';
import * as T from '../../../tensor/index.ts';
import { QuantaConfigError } from '../errors.ts';

export interface TokenGradient {
  /** Which sequence and position (the target is tokens[position + 1] of that sequence). */
  sequence: number;
  position: number;
  /** The token's loss (nats) under the model. */
  loss: number;
  gradient: Float32Array;
}

export interface PerTokenOptions {
  /** Parameters to differentiate (default: every parameter but the embeddings and the output head). */
  include?: (name: string) => boolean;
  /** Keep only tokens with loss below this (QDG looks at tokens the model already predicts well). */
  maxLoss?: number;
  /** Stop after this many gradients. */
  limit?: number;
}

export const nonEmbedding = (name: string) => name.startsWith('blocks.') || name === 'norm.weight';

/**
 * Gradients for the given sequences (each context + 1 tokens long) at the given positions (each in
 * [0, context)). Returns them in sequence order, then position order.
 */
export function perTokenGradients(
  model: ModelConfig,
  params: Params,
  sequences: readonly Int32Array[],
  positions: readonly (readonly number[])[],
  options: PerTokenOptions = {},
): TokenGradient[] {
  const include = options.include ?? nonEmbedding;
  const chosen = [...params.entries()].filter(([name]) => include(name));
  if (chosen.length === 0)
    throw new QuantaConfigError('qdg.include', 'no parameter', 'a filter that keeps at least one parameter');
  const dim = chosen.reduce((s, [, p]) => s + p.size, 0);
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const Tn = model.context;
  const out: TokenGradient[] = [];
  // Only the chosen parameters collect gradients during this pass.
  const saved = [...params.values()].map((p) => [p, p.requiresGrad] as const);
  for (const [p] of saved) p.requiresGrad = false;
  for (const [, p] of chosen) p.requiresGrad = true;
  try {
    sequences.forEach((seq, s) => {
      if (out.length >= limit) return;
      if (seq.length !== Tn + 1) {
        throw new QuantaConfigError(`sequences[${s}].length`, seq.length, `context + 1 = ${Tn + 1}`);
      }
      T.tidy(() => {
        const inputs = T.tensor(seq.subarray(0, Tn), [1, Tn], { dtype: 'i32' });
        const targets = T.tensor(seq.subarray(1), [1, Tn], { dtype: 'i32' });
        const losses = T.crossEntropy(forward(model, params, inputs, { train: false }), targets, 'none'); // (1, T)
        const values = losses.toArray();
        for (const position of positions[s]) {
          if (out.length >= limit) break;
          if (!(Number.isInteger(position) && position >= 0 && position < Tn)) {
            throw new QuantaConfigError(`positions[${s}]`, position, `an integer in [0, context = ${Tn})`);
          }
          if (options.maxLoss !== undefined && values[position] >= options.maxLoss) continue;
          const seed = new Float32Array(Tn);
          seed[position] = 1;
          T.backward(losses, T.tensor(seed, [1, Tn]));
          const gradient = new Float32Array(dim);
          let offset = 0;
          for (const [, p] of chosen) {
            if (p.grad) gradient.set(p.grad.toArray() as Float32Array, offset);
            offset += p.size;
            p.grad?.dispose();
            p.grad = null;
          }
          out.push({ sequence: s, position, loss: values[position], gradient });
        }
      });
    });
  } finally {
    for (const [p, requiresGrad] of saved) p.requiresGrad = requiresGrad;
  }
  return out;
}
