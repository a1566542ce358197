// Perplexity of a text under a model with a sliding window, as transformers' documentation defines it
// ("Perplexity of fixed-length models"): windows of `window` tokens (default: the model's context) start every
// `stride` tokens; in each, only the tokens past the previous window's end are scored (the overlap is context
// only, labels masked); the window's mean loss is weighted by (scored labels - 1), the docs' accounting of
// the label shift, and perplexity = exp(weighted sum / total weight).
import type { ModelConfig } from '../nn/config.ts';
import { forward, type Params } from '../nn/transformer.ts';
import * as T from '../tensor/index.ts';

export interface PerplexityOptions {
  window?: number;
  stride?: number;
  onWindow?: (done: number, total: number) => void;
}

export interface PerplexityResult {
  perplexity: number;
  /** Mean negative log-likelihood, nats per token (log of perplexity). */
  nll: number;
  /** The docs' token count (sum over windows of scored labels - 1). */
  tokens: number;
  windows: number;
  window: number;
  stride: number;
}

export class PerplexityError extends Error {
  override name = 'PerplexityError';
}

export function slidingWindowPerplexity(
  config: ModelConfig,
  params: Params,
  ids: ArrayLike<number>,
  options: PerplexityOptions = {},
): PerplexityResult {
  const window = options.window ?? config.context;
  const stride = options.stride ?? Math.max(1, Math.floor(window / 2));
  if (!Number.isSafeInteger(window) || window < 2 || window > config.context)
    throw new PerplexityError(
      `--window ${window}: must be an integer in [2, ${config.context}] (the model's context)`,
    );
  if (!Number.isSafeInteger(stride) || stride < 1 || stride > window)
    throw new PerplexityError(`--stride ${stride}: must be an integer in [1, window = ${window}]`);
  const n = ids.length;
  if (n < 2) throw new PerplexityError(`the text has ${n} token(s); perplexity needs at least 2`);
  for (let i = 0; i < n; i++)
    if (!(ids[i] >= 0 && ids[i] < config.vocabSize))
      throw new PerplexityError(
        `token ${i} is id ${ids[i]}, outside the model's vocabulary [0, ${config.vocabSize})`,
      );
  const starts: number[] = [];
  for (let begin = 0; begin < n; begin += stride) {
    starts.push(begin);
    if (Math.min(begin + window, n) === n) break;
  }
  const backend = params.values().next().value!.backend;
  let nllSum = 0;
  let count = 0;
  let prevEnd = 0;
  starts.forEach((begin, w) => {
    const end = Math.min(begin + window, n);
    const length = end - begin;
    const scored = end - prevEnd; // labels of this window not scored before
    const inputs = new Int32Array(length);
    const targets = new Int32Array(length).fill(-1);
    for (let i = 0; i < length; i++) inputs[i] = ids[begin + i];
    // Logits at i predict the label at i + 1, which counts when it lies in the last `scored` positions.
    for (let i = 0; i + 1 < length; i++) if (i + 1 >= length - scored) targets[i] = ids[begin + i + 1];
    let sum = 0;
    let valid = 0;
    T.tidy(() =>
      T.noGrad(() => {
        const x = T.tensor(inputs, [1, length], { dtype: 'i32', backend });
        const y = T.tensor(targets, [1, length], { dtype: 'i32', backend });
        const losses = T.crossEntropy(forward(config, params, x, { train: false }), y, 'none').toArray();
        for (let i = 0; i < length; i++)
          if (targets[i] >= 0) {
            sum += losses[i];
            valid++;
          }
      }),
    );
    const weight = Math.min(scored, length) - 1;
    if (valid > 0) nllSum += (sum / valid) * weight;
    count += weight;
    prevEnd = end;
    options.onWindow?.(w + 1, starts.length);
  });
  const nll = nllSum / count;
  return { perplexity: Math.exp(nll), nll, tokens: count, windows: starts.length, window, stride };
}
