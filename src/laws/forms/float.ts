// Floating-point training by exponent bits E, mantissa bits M and scaling block size B, after Sun et al. 2025,
// "Scaling Laws for Floating-Point Quantization Training" (arXiv 2501.02423):
//
//   L = n/N^alpha + d/D^beta + epsilon + D^beta/N^alpha * log2(B) / (gamma (E + 0.5)^delta (M + 0.5)^nu)
//
// The last term is the cost of training in the format: it grows with the data (the model packs more into
// weights the format cannot hold) and shrinks with the model, the exponent and mantissa bits; the +0.5 keeps
// a format with no mantissa bits finite. Because it grows as D^beta while the data term falls as D^-beta, the
// loss has a minimum in D at fixed N and format: the critical data size (floatCriticalData below).
// The form is as stated in issue 15; we could not check it against the paper's text (see README).
// 'float:EM' drops log2(B) for runs that all share one scaling granularity (it folds into gamma).
// Evaluated in log space as an LSE of four terms:
//   t1 = log n - alpha log N, t2 = log d - beta log D, t3 = log epsilon,
//   t4 = beta log D - alpha log N + log log2 B - log gamma - delta log(E + .5) - nu log(M + .5).

import { LawsInputError } from '../errors.ts';
import type { Form, ParamSpec } from '../form.ts';
import { linearParam, logParam, requireParams } from '../form.ts';

export interface FloatOptions {
  /** Whether the runs' block size B enters the law (default true). */
  readonly block?: boolean;
}

export function floatForm(options: FloatOptions = {}): Form {
  const block = options.block ?? true;
  const params: ParamSpec[] = [
    logParam('n', [2, 8]),
    logParam('d', [2, 8]),
    logParam('epsilon', [0, 1]),
    linearParam('alpha', [0.3, 0.6], 0),
    linearParam('beta', [0.3, 0.6], 0),
    logParam('gamma', [Math.log(10), Math.log(1000)]),
    linearParam('delta', [1, 3], 0),
    linearParam('nu', [0.5, 2], 0),
  ];
  const variables = ['N', 'D', 'E', 'M', ...(block ? ['B'] : [])];
  const format = block ? ['E', 'M', 'B'] : ['E', 'M'];
  return {
    spec: { kind: 'float', options: { block } },
    formula: `n/N^alpha + d/D^beta + epsilon + D^beta/N^alpha ${block ? 'log2(B) ' : ''}/ (gamma (E+0.5)^delta (M+0.5)^nu)`,
    variables,
    params,
    reads: {
      n: ['N'],
      d: ['D'],
      epsilon: [],
      alpha: ['N'],
      beta: ['D'],
      gamma: ['N', 'D', ...format],
      delta: ['E'],
      nu: ['M'],
    },
    bind(columns, n) {
      const [nCol, dCol, eCol, mCol] = columns;
      const logN = nCol.map(Math.log);
      const logD = dCol.map(Math.log);
      const logE = eCol.map((E) => Math.log(E + 0.5));
      const logM = mCol.map((M) => Math.log(M + 0.5));
      // log log2 B; -Infinity for B = 1 (one scale per value: no format penalty).
      const logLogB = block
        ? columns[4].map((B, i) => {
            if (!(B >= 1)) {
              throw new LawsInputError(`point ${i + 1}: B = ${B} must be a block size >= 1`, i + 1, 'B');
            }
            return Math.log(Math.log2(B));
          })
        : new Float64Array(n);
      return {
        n,
        logPredict(theta, out, jac) {
          const [a, b, e, alpha, beta, g, delta, nu] = theta;
          for (let i = 0; i < n; i++) {
            const t1 = a - alpha * logN[i];
            const t2 = b - beta * logD[i];
            const t4 = beta * logD[i] - alpha * logN[i] + logLogB[i] - g - delta * logE[i] - nu * logM[i];
            const m = Math.max(t1, t2, e, t4);
            const w1 = Math.exp(t1 - m);
            const w2 = Math.exp(t2 - m);
            const w3 = Math.exp(e - m);
            const w4 = Math.exp(t4 - m); // 0 when B = 1
            const s = w1 + w2 + w3 + w4;
            out[i] = m + Math.log(s);
            if (!jac) continue;
            const k = i * 8;
            const s1 = w1 / s;
            const s2 = w2 / s;
            const s4 = w4 / s;
            jac[k] = s1;
            jac[k + 1] = s2;
            jac[k + 2] = w3 / s;
            jac[k + 3] = -(s1 + s4) * logN[i];
            jac[k + 4] = (s4 - s2) * logD[i];
            jac[k + 5] = -s4;
            jac[k + 6] = -s4 * logE[i];
            jac[k + 7] = -s4 * logM[i];
          }
        },
      };
    },
  };
}

/**
 * The critical data size of the float law: setting dL/dD = 0 gives
 *   D_crit = [d gamma N^alpha (E+0.5)^delta (M+0.5)^nu / log2 B]^(1/(2 beta)),
 * past which more tokens raise the loss at fixed N and format. Infinity for B = 1 (no penalty). Pass B = 2
 * for 'float:EM' fits (log2 B = 1, the granularity folded into gamma).
 */
export function floatCriticalData(
  /** A float fit's parameters in natural units (its `params`): d, alpha, beta, gamma, delta, nu. */
  p: Readonly<Record<string, number>>,
  point: { readonly N: number; readonly E: number; readonly M: number; readonly B?: number },
): number {
  requireParams(p, ['d', 'alpha', 'beta', 'gamma', 'delta', 'nu'], 'float');
  const log2B = Math.log2(point.B ?? 2);
  if (log2B <= 0) return Number.POSITIVE_INFINITY;
  const logInner =
    Math.log(p.d * p.gamma) +
    p.alpha * Math.log(point.N) +
    p.delta * Math.log(point.E + 0.5) +
    p.nu * Math.log(point.M + 0.5) -
    Math.log(log2B);
  return Math.exp(logInner / (2 * p.beta));
}
