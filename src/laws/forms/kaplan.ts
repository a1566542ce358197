// Kaplan et al. single power laws: L(X) = (X_c / X)^alpha_X for X = N (parameters), D (tokens) or
// C (compute). In log space: log L = alpha (log X_c - log X), with X_c fitted in log space.

import { LawsOptionError } from '../errors.ts';
import type { Form } from '../form.ts';
import { linearParam, logParam } from '../form.ts';

export type KaplanVariable = 'N' | 'D' | 'C';

export function kaplanForm(variable: KaplanVariable = 'N'): Form {
  if (!['N', 'D', 'C'].includes(variable)) throw new LawsOptionError('variable', variable, "'N', 'D' or 'C'");
  const scale = `${variable}_c`;
  const exponent = `alpha_${variable}`;
  return {
    spec: { kind: 'kaplan', options: { variable } },
    formula: `(${scale}/${variable})^${exponent}`,
    variables: [variable],
    params: [logParam(scale, [10, 20, 30, 40, 50]), linearParam(exponent, [0.05, 0.1, 0.3, 1])],
    reads: { [scale]: [variable], [exponent]: [variable] },
    bind([column], n) {
      const logX = column.map(Math.log);
      return {
        n,
        logPredict(theta, out, jac) {
          const logScale = theta[0];
          const alpha = theta[1];
          for (let i = 0; i < n; i++) {
            out[i] = alpha * (logScale - logX[i]);
            if (jac) {
              jac[2 * i] = alpha;
              jac[2 * i + 1] = logScale - logX[i];
            }
          }
        },
      };
    },
  };
}
