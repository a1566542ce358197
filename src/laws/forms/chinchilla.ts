// Chinchilla: L(N, D) = E + A / N^alpha + B / D^beta, in Epoch AI's parametrization
//   log L = LSE(a - alpha log N, b - beta log D, e),  A = e^a, B = e^b, E = e^e.
// Written by hand (not as an expression) because it is the form the speed target is about.

import type { BoundForm, Form } from '../form.ts';
import { linearParam, logParam, steps } from '../form.ts';

/** Epoch's start grid: alpha, beta in {0, .5, .., 2}, e in {-1, -.5, .., 1}, a, b in {0, 5, .., 25}. */
export const EPOCH_GRID = {
  a: steps(0, 25, 5),
  b: steps(0, 25, 5),
  e: steps(-1, 1, 0.5),
  alpha: steps(0, 2, 0.5),
  beta: steps(0, 2, 0.5),
} as const;

export function chinchillaForm(): Form {
  return {
    spec: { kind: 'chinchilla' },
    formula: 'E + A/N^alpha + B/D^beta',
    variables: ['N', 'D'],
    params: [
      logParam('A', EPOCH_GRID.a),
      logParam('B', EPOCH_GRID.b),
      logParam('E', EPOCH_GRID.e),
      linearParam('alpha', EPOCH_GRID.alpha),
      linearParam('beta', EPOCH_GRID.beta),
    ],
    reads: { A: ['N'], B: ['D'], E: [], alpha: ['N'], beta: ['D'] },
    bind: ([n, d], count) => bindChinchilla(n, d, count),
  };
}

function bindChinchilla(nParams: Float64Array, tokens: Float64Array, n: number): BoundForm {
  const logN = nParams.map(Math.log);
  const logD = tokens.map(Math.log);
  return {
    n,
    logPredict(theta, out, jac) {
      const a = theta[0];
      const b = theta[1];
      const e = theta[2];
      const alpha = theta[3];
      const beta = theta[4];
      for (let i = 0; i < n; i++) {
        const t1 = a - alpha * logN[i];
        const t2 = b - beta * logD[i];
        const m = Math.max(t1, t2, e);
        const w1 = Math.exp(t1 - m);
        const w2 = Math.exp(t2 - m);
        const w3 = Math.exp(e - m);
        const s = w1 + w2 + w3;
        out[i] = m + Math.log(s);
        if (jac) {
          // d LSE / d t_k is the softmax weight of term k.
          const k = i * 5;
          const inv = 1 / s;
          jac[k] = w1 * inv;
          jac[k + 1] = w2 * inv;
          jac[k + 2] = w3 * inv;
          jac[k + 3] = -w1 * inv * logN[i];
          jac[k + 4] = -w2 * inv * logD[i];
        }
      }
    },
  };
}
