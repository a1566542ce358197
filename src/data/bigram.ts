// The bigram baseline the language model has to beat: interpolated Kneser-Ney (Chen & Goodman 1998), the
// strongest standard smoothing for a bigram, so "25% below the bigram" is a real bar, not a strawman.
//
//   P(w | v) = max(c(v,w) - d, 0) / c(v)  +  d * N1+(v .) / c(v) * Pcont(w)      (Pcont(w) when c(v) = 0)
//   Pcont(w) = (N1+(. w) + 1) / (N1+(. .) + V)       how many distinct words w follows, add-one for unseen w
//
// The discount d is tuned simply: the value on a grid that minimizes cross-entropy on the last 10% of the
// training tokens when fitted on the first 90%; the final model is then fitted on all training tokens.

import { DataArgumentError } from './errors.ts';

type Tokens = ArrayLike<number>;

export interface BigramModel {
  vocabSize: number;
  discount: number;
  /** Natural log of P(next | prev). */
  logProb(prev: number, next: number): number;
}

/** The bigram is fitted on at most this many training tokens (all of them for the small corpora). */
export const BIGRAM_TRAIN_TOKENS = 32 * 2 ** 20;

const DISCOUNT_GRID = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1];

interface Counts {
  pairs: Map<number, number>; // v * V + w -> c(v, w)
  context: Float64Array; // c(v) = sum over w of c(v, w)
  followers: Float64Array; // N1+(v .)
  preceders: Float64Array; // N1+(. w)
  types: number; // N1+(. .)
}

function checkToken(token: number, vocabSize: number, i: number): void {
  if (!(Number.isInteger(token) && token >= 0 && token < vocabSize)) {
    throw new DataArgumentError(`tokens[${i}]`, token, `an integer in [0, ${vocabSize})`);
  }
}

function count(tokens: Tokens, vocabSize: number, from: number, to: number): Counts {
  const V = vocabSize;
  const pairs = new Map<number, number>();
  const context = new Float64Array(V);
  const followers = new Float64Array(V);
  const preceders = new Float64Array(V);
  for (let i = from; i + 1 < to; i++) {
    const v = tokens[i];
    const w = tokens[i + 1];
    checkToken(w, V, i + 1);
    if (i === from) checkToken(v, V, i);
    const key = v * V + w;
    const c = pairs.get(key);
    if (c === undefined) {
      followers[v]++;
      preceders[w]++;
    }
    pairs.set(key, (c ?? 0) + 1);
    context[v]++;
  }
  return { pairs, context, followers, preceders, types: pairs.size };
}

function model(counts: Counts, vocabSize: number, discount: number): BigramModel {
  const V = vocabSize;
  const { pairs, context, followers, preceders, types } = counts;
  return {
    vocabSize,
    discount,
    logProb(prev: number, next: number): number {
      const pcont = (preceders[next] + 1) / (types + V);
      const cv = context[prev];
      if (cv === 0) return Math.log(pcont);
      const cvw = pairs.get(prev * V + next) ?? 0;
      return Math.log(Math.max(cvw - discount, 0) / cv + ((discount * followers[prev]) / cv) * pcont);
    },
  };
}

/** Cross-entropy in nats/token of predicting tokens[i+1] from tokens[i], over the whole array. */
export function bigramCrossEntropy(bigram: BigramModel, tokens: Tokens): number {
  if (tokens.length < 2) throw new DataArgumentError('tokens.length', tokens.length, 'at least 2 tokens');
  let total = 0;
  for (let i = 0; i + 1 < tokens.length; i++) {
    checkToken(tokens[i + 1], bigram.vocabSize, i + 1);
    total -= bigram.logProb(tokens[i], tokens[i + 1]);
  }
  return total / (tokens.length - 1);
}

/** Fits the interpolated Kneser-Ney bigram on training tokens, tuning the discount on a held-out tail. */
export function fitBigram(tokens: Tokens, vocabSize: number): BigramModel {
  if (!Number.isInteger(vocabSize) || vocabSize < 1) {
    throw new DataArgumentError('vocabSize', vocabSize, 'an integer >= 1');
  }
  if (tokens.length < 20) throw new DataArgumentError('tokens.length', tokens.length, 'at least 20 tokens');
  const cut = Math.floor(tokens.length * 0.9);
  const heldOut = Array.prototype.slice.call(tokens, cut) as number[];
  const head = count(tokens, vocabSize, 0, cut);
  let best = DISCOUNT_GRID[0];
  let bestLoss = Number.POSITIVE_INFINITY;
  for (const d of DISCOUNT_GRID) {
    const loss = bigramCrossEntropy(model(head, vocabSize, d), heldOut);
    if (loss < bestLoss) [best, bestLoss] = [d, loss];
  }
  return model(count(tokens, vocabSize, 0, tokens.length), vocabSize, best);
}
