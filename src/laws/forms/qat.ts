// Quantization-aware training with quantization group size G, after Chen et al. 2025, "Scaling Law for
// Quantization-Aware Training" (arXiv 2505.14302); the delta term as a published summary of the paper gives it
// (not checked against the paper's own text):
//
//   L = A/N^alpha + B/D^beta + E + delta_QAT,   delta_QAT = k D^gamma_D (log2 G)^gamma_G / N^gamma_N
//
// The QAT error shrinks with the model, grows with the tokens and with coarser groups (log2 G, so that
// G = 1, one scale per value, costs nothing). The law is for one bit width (the paper's W4A4): fit one per
// precision. Because delta_QAT grows with D while the data term falls, the loss has a minimum in D
// (qatCriticalData). Evaluated in log space as an LSE of four terms, the fourth
//   t4 = log k + gamma_D log D + gamma_G log log2 G - gamma_N log N.

import { LawsInputError } from '../errors.ts';
import type { Form } from '../form.ts';
import { chinchillaTermParams, linearParam, logParam, requireParams } from '../form.ts';

export function qatForm(): Form {
  return {
    spec: { kind: 'qat' },
    formula: 'A/N^alpha + B/D^beta + E + k D^gamma_D (log2 G)^gamma_G / N^gamma_N',
    variables: ['N', 'D', 'G'],
    params: [
      ...chinchillaTermParams(),
      logParam('k', [Math.log(0.01), Math.log(1)]),
      linearParam('gamma_D', [0.1, 0.4], 0),
      linearParam('gamma_G', [0.5, 1.5], 0),
      linearParam('gamma_N', [0.1, 0.4], 0),
    ],
    reads: {
      A: ['N'],
      B: ['D'],
      E: [],
      alpha: ['N'],
      beta: ['D'],
      k: ['N', 'D', 'G'],
      gamma_D: ['D'],
      gamma_G: ['G'],
      gamma_N: ['N'],
    },
    bind([nCol, dCol, gCol], n) {
      const logN = nCol.map(Math.log);
      const logD = dCol.map(Math.log);
      const logLogG = gCol.map((G, i) => {
        if (!(G >= 1))
          throw new LawsInputError(`point ${i + 1}: G = ${G} must be a group size >= 1`, i + 1, 'G');
        return Math.log(Math.log2(G)); // -Infinity at G = 1: no QAT error
      });
      return {
        n,
        logPredict(theta, out, jac) {
          const [a, b, e, alpha, beta, k, gD, gG, gN] = theta;
          for (let i = 0; i < n; i++) {
            const t1 = a - alpha * logN[i];
            const t2 = b - beta * logD[i];
            const t4 =
              logLogG[i] === Number.NEGATIVE_INFINITY
                ? Number.NEGATIVE_INFINITY
                : k + gD * logD[i] + gG * logLogG[i] - gN * logN[i];
            const m = Math.max(t1, t2, e, t4);
            const w1 = Math.exp(t1 - m);
            const w2 = Math.exp(t2 - m);
            const w3 = Math.exp(e - m);
            const w4 = Math.exp(t4 - m);
            const s = w1 + w2 + w3 + w4;
            out[i] = m + Math.log(s);
            if (!jac) continue;
            const j = i * 9;
            const s4 = w4 / s;
            jac[j] = w1 / s;
            jac[j + 1] = w2 / s;
            jac[j + 2] = w3 / s;
            jac[j + 3] = (-w1 / s) * logN[i];
            jac[j + 4] = (-w2 / s) * logD[i];
            jac[j + 5] = s4;
            jac[j + 6] = s4 * logD[i];
            jac[j + 7] = s4 > 0 ? s4 * logLogG[i] : 0;
            jac[j + 8] = -s4 * logN[i];
          }
        },
      };
    },
  };
}

/**
 * The D past which more tokens raise the QAT loss at fixed N and G: dL/dD = 0 gives
 *   D^(beta + gamma_D) = beta B N^gamma_N / (gamma_D k (log2 G)^gamma_G).
 * Infinity when G = 1 or gamma_D = 0 (the QAT error does not grow with data).
 */
export function qatCriticalData(
  /** A qat fit's parameters in natural units (its `params`): B, beta, k, gamma_D, gamma_G, gamma_N. */
  p: Readonly<Record<string, number>>,
  point: { readonly N: number; readonly G: number },
): number {
  requireParams(p, ['B', 'beta', 'k', 'gamma_D', 'gamma_G', 'gamma_N'], 'qat');
  const log2G = Math.log2(point.G);
  if (!(log2G > 0 && p.gamma_D > 0)) return Number.POSITIVE_INFINITY;
  const logD =
    (Math.log(p.beta * p.B) +
      p.gamma_N * Math.log(point.N) -
      Math.log(p.gamma_D * p.k) -
      p.gamma_G * Math.log(log2G)) /
    (p.beta + p.gamma_D);
  return Math.exp(logD);
}
