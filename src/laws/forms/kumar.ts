// The precision-aware laws of Kumar et al., "Scaling Laws for Precision" (arXiv 2411.04330):
//
//   L = A N_eff^-alpha + B D^-beta + E + delta_PTQ
//   N_eff = N * prod_{x in parts} (1 - exp(-P_x / gamma_x))                   parts of {w, a, kv}
//   delta_PTQ = C_T * D^gamma_D / N_eff^gamma_N * exp(-P_post / gamma_post)   (N_eff = N when trained
//                                                                             in high precision)
// 'precision': training precision only (no delta_PTQ). 'ptq': high-precision training, then PTQ.
// 'unified': training at P_w, then PTQ to P_post. Derivation of the unified damping factor: quantizing
// to the precision a model was trained in costs nothing, and the cost should approach the
// high-precision delta_PTQ as P_w grows. The simplest factor with both limits, as in the paper's
// unified form, is [1 - exp(-C_w (P_w - P_post))]: 0 at P_w = P_post, -> 1 as P_w -> infinity. We apply
// it for weights only, since PTQ quantizes the weights; P_w <= P_post gives delta_PTQ = 0.
//
// Evaluated in log space as an LSE of up to four terms, like Epoch's Chinchilla parametrization:
//   t1 = a - alpha log N_eff,  t2 = b - beta log D,  t3 = e,
//   t4 = c - gamma_N log N_eff + gamma_D log D - P_post / gamma_post [+ log(1 - exp(-C_w (P_w - P_post)))]
// Precisions may be +Infinity (not quantized). gamma_x, gamma_post, C_T, C_w are fitted in log space.

import { LawsOptionError } from '../errors.ts';
import type { Form, ParamSpec } from '../form.ts';
import { chinchillaTermParams, linearParam, logParam } from '../form.ts';

export type Part = 'w' | 'a' | 'kv';
export type KumarKind = 'precision' | 'ptq' | 'unified';

export interface KumarOptions {
  /** Parts quantized during training (their columns Pw, Pa, Pkv); default ['w']. Ignored for 'ptq'. */
  readonly parts?: readonly Part[];
}

const PART_COLUMN: Record<Part, string> = { w: 'Pw', a: 'Pa', kv: 'Pkv' };
const ALL_PARTS: readonly Part[] = ['w', 'a', 'kv'];

export function kumarForm(kind: KumarKind, options: KumarOptions = {}): Form {
  const parts = kind === 'ptq' ? [] : [...(options.parts ?? ['w'])];
  for (const part of parts) {
    if (!ALL_PARTS.includes(part)) throw new LawsOptionError('parts', part, "each of 'w', 'a', 'kv'");
  }
  if (kind !== 'ptq' && parts.length === 0) throw new LawsOptionError('parts', parts, 'at least one part');
  if (kind === 'unified' && !parts.includes('w'))
    throw new LawsOptionError('parts', parts, "'w' for the unified form");
  const withPtq = kind !== 'precision';
  const unified = kind === 'unified';

  const params: ParamSpec[] = [
    ...chinchillaTermParams(),
    ...parts.map((x) => logParam(`gamma_${x}`, [Math.log(2.5)])),
  ];
  if (withPtq) {
    params.push(
      logParam('C_T', [Math.log(0.01), Math.log(0.1)]),
      linearParam('gamma_D', [0.3, 0.6], 0),
      linearParam('gamma_N', [0.3, 0.6], 0),
      logParam('gamma_post', [Math.log(0.6)]),
    );
  }
  if (unified) params.push(logParam('C_w', [0]));
  const variables = ['N', 'D', ...parts.map((x) => PART_COLUMN[x]), ...(withPtq ? ['Ppost'] : [])];
  const p = params.length;
  const nParts = parts.length;
  const G = 5; // index of gamma_x
  const T = 5 + nParts; // index of C_T, then gamma_D, gamma_N, gamma_post, C_w
  const wColumn = parts.indexOf('w');

  const nEff = parts.length === 0 ? 'N' : 'N_eff';
  const formula =
    `A/${nEff}^alpha + B/D^beta + E` +
    (withPtq ? ` + C_T D^gamma_D/${nEff}^gamma_N exp(-Ppost/gamma_post)` : '') +
    (unified ? ' (1 - exp(-C_w (Pw - Ppost)))' : '') +
    (parts.length
      ? `, N_eff = N ${parts.map((x) => `(1 - exp(-${PART_COLUMN[x]}/gamma_${x}))`).join(' ')}`
      : '');

  const nEffReads = ['N', ...parts.map((x) => PART_COLUMN[x])];
  const reads: Record<string, string[]> = { A: nEffReads, B: ['D'], E: [], alpha: nEffReads, beta: ['D'] };
  for (const x of parts) reads[`gamma_${x}`] = [PART_COLUMN[x]];
  if (withPtq) {
    Object.assign(reads, {
      C_T: [...nEffReads, 'D', 'Ppost'],
      gamma_D: ['D'],
      gamma_N: nEffReads,
      gamma_post: ['Ppost'],
    });
  }
  if (unified) reads.C_w = ['Pw', 'Ppost'];

  return {
    spec: { kind, options: { parts } },
    formula,
    variables,
    params,
    reads,
    bind(columns, n) {
      const logN = columns[0].map(Math.log);
      const logD = columns[1].map(Math.log);
      const precision = columns.slice(2, 2 + nParts);
      const pPost = withPtq ? columns[2 + nParts] : new Float64Array(0);
      const pW = wColumn >= 0 ? precision[wColumn] : new Float64Array(0);
      const dNeff = new Float64Array(nParts); // d log N_eff / d log gamma_x at the current point
      return {
        n,
        logPredict(theta, out, jac) {
          const a = theta[0];
          const b = theta[1];
          const e = theta[2];
          const alpha = theta[3];
          const beta = theta[4];
          for (let i = 0; i < n; i++) {
            let logNeff = logN[i];
            for (let x = 0; x < nParts; x++) {
              const u = precision[x][i] * Math.exp(-theta[G + x]);
              if (Number.isFinite(u)) {
                logNeff += Math.log(-Math.expm1(-u));
                dNeff[x] = -u / Math.expm1(u);
              } else dNeff[x] = 0;
            }
            const t1 = a - alpha * logNeff;
            const t2 = b - beta * logD[i];
            let t4 = Number.NEGATIVE_INFINITY;
            let dPost = 0;
            let dCw = 0;
            if (withPtq) {
              const post = pPost[i] * Math.exp(-theta[T + 3]);
              t4 = theta[T] - theta[T + 2] * logNeff + theta[T + 1] * logD[i] - post;
              dPost = Number.isFinite(post) ? post : 0;
              if (unified) {
                const v = Math.exp(theta[T + 4]) * (pW[i] - pPost[i]);
                if (!(v > 0)) t4 = Number.NEGATIVE_INFINITY;
                else if (Number.isFinite(v)) {
                  t4 += Math.log(-Math.expm1(-v));
                  dCw = v / Math.expm1(v);
                }
              }
            }
            const m = Math.max(t1, t2, e, t4);
            const w1 = Math.exp(t1 - m);
            const w2 = Math.exp(t2 - m);
            const w3 = Math.exp(e - m);
            const w4 = t4 === Number.NEGATIVE_INFINITY ? 0 : Math.exp(t4 - m);
            const s = w1 + w2 + w3 + w4;
            out[i] = m + Math.log(s);
            if (!jac) continue;
            const k = i * p;
            const s1 = w1 / s;
            const s4 = w4 / s;
            jac[k] = s1;
            jac[k + 1] = w2 / s;
            jac[k + 2] = w3 / s;
            jac[k + 3] = -s1 * logNeff;
            jac[k + 4] = (-w2 / s) * logD[i];
            for (let x = 0; x < nParts; x++) {
              jac[k + G + x] = -(s1 * alpha + (withPtq ? s4 * theta[T + 2] : 0)) * dNeff[x];
            }
            if (withPtq) {
              jac[k + T] = s4;
              jac[k + T + 1] = s4 > 0 ? s4 * logD[i] : 0;
              jac[k + T + 2] = s4 > 0 ? -s4 * logNeff : 0;
              jac[k + T + 3] = s4 > 0 ? s4 * dPost : 0;
              if (unified) jac[k + T + 4] = s4 > 0 ? s4 * dCw : 0;
            }
          }
        },
      };
    },
  };
}
