// Two-phase training: full precision for (1 - f) D tokens, then quantization-aware training for the last
// f D, as studied by Dremov et al. 2025, "Compute-Optimal Quantization-Aware Training" (arXiv 2509.22935).
// The paper's own law is not reproduced here (we could not read its exact form); this is OUR parametrization
// of the trade-off it measures:
//
//   L = A/N^alpha + B/D_eff^beta + E + C / (N^gamma_N (f D)^rho),   D_eff = D (1 - (1 - eta) f)
//
// - QAT tokens teach the model less than full-precision ones (noisier gradients through the quantizer):
//   each counts eta in [0, 1] of a full-precision token in the data term.
// - The quantized model's penalty decays with the QAT tokens f D (the time it has to adapt) and with N.
// So more QAT shrinks the penalty and costs data efficiency: the optimal fraction f* (optimalQatFraction)
// balances the two, and it grows with D exactly when rho < beta (the penalty falls more slowly with data
// than the data term, so a larger budget spends a larger share on QAT, as the paper reports).
// The law is for one QAT bit width: fit one per precision. f must lie in (0, 1].

import { LawsInputError } from '../errors.ts';
import type { Form } from '../form.ts';
import { chinchillaTermParams, linearParam, logParam } from '../form.ts';

export function twoPhaseForm(): Form {
  return {
    spec: { kind: 'two-phase' },
    formula: 'A/N^alpha + B/(D (1 - (1-eta) f))^beta + E + C/(N^gamma_N (f D)^rho)',
    variables: ['N', 'D', 'f'],
    params: [
      ...chinchillaTermParams(),
      linearParam('eta', [0.3, 0.8], 0, 1),
      logParam('C', [2, 6]),
      linearParam('gamma_N', [0.1, 0.4], 0),
      linearParam('rho', [0.1, 0.4], 0),
    ],
    reads: {
      A: ['N'],
      B: ['D', 'f'],
      E: [],
      alpha: ['N'],
      beta: ['D', 'f'],
      eta: ['f'],
      C: ['N', 'D', 'f'],
      gamma_N: ['N'],
      rho: ['D', 'f'],
    },
    bind([nCol, dCol, fCol], n) {
      const logN = nCol.map(Math.log);
      const logD = dCol.map(Math.log);
      const logQat = fCol.map((f, i) => {
        if (!(f > 0 && f <= 1)) {
          throw new LawsInputError(`point ${i + 1}: f = ${f} must be a QAT fraction in (0, 1]`, i + 1, 'f');
        }
        return Math.log(f) + logD[i];
      });
      return {
        n,
        logPredict(theta, out, jac) {
          const [a, b, e, alpha, beta, eta, c, gN, rho] = theta;
          for (let i = 0; i < n; i++) {
            const f = fCol[i];
            const u = 1 - (1 - eta) * f; // D_eff / D, in [eta, 1]
            const logDeff = logD[i] + Math.log(u);
            const t1 = a - alpha * logN[i];
            const t2 = b - beta * logDeff;
            const t4 = c - gN * logN[i] - rho * logQat[i];
            const m = Math.max(t1, t2, e, t4);
            const w1 = Math.exp(t1 - m);
            const w2 = Math.exp(t2 - m);
            const w3 = Math.exp(e - m);
            const w4 = Math.exp(t4 - m);
            const s = w1 + w2 + w3 + w4;
            out[i] = m + Math.log(s);
            if (!jac) continue;
            const j = i * 9;
            const s2 = w2 / s;
            const s4 = w4 / s;
            jac[j] = w1 / s;
            jac[j + 1] = s2;
            jac[j + 2] = w3 / s;
            jac[j + 3] = (-w1 / s) * logN[i];
            jac[j + 4] = -s2 * logDeff;
            jac[j + 5] = (-s2 * beta * f) / u; // d log u / d eta = f / u
            jac[j + 6] = s4;
            jac[j + 7] = -s4 * logN[i];
            jac[j + 8] = -s4 * logQat[i];
          }
        },
      };
    },
  };
}
