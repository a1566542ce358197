// Per-format efficiency factors, as in QuEST (Panferov et al. 2025) and Quartet (Castro et al. 2025):
//
//   L = A / (N · eff_f)^alpha + B / D^beta + E
//
// with one efficiency eff_f per distinct training format f, here identified by its bits in the Pw column.
// The highest-precision format is the reference, eff = 1 (A and a common factor are otherwise the same
// thing). Next to Kumar et al.'s N_eff = N (1 - e^(-P/gamma)), it makes no assumption about how
// efficiency depends on the bits, so users can compare the two on their runs. Evaluated in log space as an
// LSE of three terms, like Chinchilla: t1 = a - alpha (log N + log eff_f), t2 = b - beta log D, t3 = e.

import { LawsInputError, LawsOptionError } from '../errors.ts';
import type { Form, ParamSpec } from '../form.ts';
import { chinchillaTermParams, logParam } from '../form.ts';

/** Parameter name of a format's efficiency: eff_4, eff_8, eff_inf. */
export const efficiencyName = (bits: number) => `eff_${Number.isFinite(bits) ? bits : 'inf'}`;

export function efficiencyForm(levels: readonly (number | null)[]): Form {
  // JSON turns Infinity into null: read it back as unquantized.
  const all = [...new Set(levels.map((l) => (l === null ? Number.POSITIVE_INFINITY : l)))].sort(
    (a, b) => a - b,
  );
  if (all.length < 2 || all.some((l) => !(l > 0))) {
    throw new LawsOptionError(
      'levels',
      levels,
      'two or more distinct training precisions (bits > 0, or inf)',
    );
  }
  const reference = all[all.length - 1];
  const others = all.slice(0, -1);
  const params: ParamSpec[] = [
    ...chinchillaTermParams(),
    ...others.map((l) => logParam(efficiencyName(l), [Math.log(0.5)])),
  ];
  const reads: Record<string, string[]> = {
    A: ['N', 'Pw'],
    B: ['D'],
    E: [],
    alpha: ['N', 'Pw'],
    beta: ['D'],
  };
  for (const l of others) reads[efficiencyName(l)] = ['Pw'];
  const p = params.length;
  return {
    spec: { kind: 'efficiency', options: { levels: all } },
    formula: `A/(N eff_Pw)^alpha + B/D^beta + E, eff for Pw in ${all.join(', ')} (eff_${reference === Number.POSITIVE_INFINITY ? 'inf' : reference} = 1)`,
    variables: ['N', 'D', 'Pw'],
    params,
    reads,
    bind([nCol, dCol, pCol], n) {
      const logN = nCol.map(Math.log);
      const logD = dCol.map(Math.log);
      // Index into theta of each point's efficiency, -1 for the reference format.
      const slot = Int32Array.from(pCol, (P, i) => {
        const k = all.indexOf(P);
        if (k < 0) {
          throw new LawsInputError(
            `point ${i + 1}: Pw = ${P} is not a format of this efficiency law (${all.join(', ')} bits)`,
            i + 1,
            'Pw',
          );
        }
        return P === reference ? -1 : 5 + k;
      });
      return {
        n,
        logPredict(theta, out, jac) {
          const [a, b, e, alpha, beta] = theta;
          for (let i = 0; i < n; i++) {
            const logEff = slot[i] < 0 ? 0 : theta[slot[i]];
            const t1 = a - alpha * (logN[i] + logEff);
            const t2 = b - beta * logD[i];
            const m = Math.max(t1, t2, e);
            const w1 = Math.exp(t1 - m);
            const w2 = Math.exp(t2 - m);
            const w3 = Math.exp(e - m);
            const s = w1 + w2 + w3;
            out[i] = m + Math.log(s);
            if (!jac) continue;
            const k = i * p;
            jac.fill(0, k, k + p);
            jac[k] = w1 / s;
            jac[k + 1] = w2 / s;
            jac[k + 2] = w3 / s;
            jac[k + 3] = (-w1 / s) * (logN[i] + logEff);
            jac[k + 4] = (-w2 / s) * logD[i];
            if (slot[i] >= 0) jac[k + slot[i]] = (-w1 / s) * alpha;
          }
        },
      };
    },
  };
}
