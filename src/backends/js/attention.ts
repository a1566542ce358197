// Softmax attention of the js backend, written as the textbook does it: scores, softmax, weighted sum.
// Layout (B, T, nh, hs) for q, k, v and out; lse (B, nh, T).
import type { FloatArray } from './storage.ts';

interface Dims {
  B: number;
  T: number;
  nh: number;
  hs: number;
  scale: number;
  causal: boolean;
}

const at = (d: Dims, b: number, t: number, h: number) => ((b * d.T + t) * d.nh + h) * d.hs;

/** Softmax probabilities p[s] of query (b, t, h), from the saved log-sum-exp. Entries after t are 0 if causal. */
function probabilities(
  q: FloatArray,
  k: FloatArray,
  lse: FloatArray,
  d: Dims,
  b: number,
  h: number,
  t: number,
) {
  const p = new Float64Array(d.T);
  const last = d.causal ? t : d.T - 1;
  const qo = at(d, b, t, h);
  const l = lse[(b * d.nh + h) * d.T + t];
  for (let s = 0; s <= last; s++) {
    const ko = at(d, b, s, h);
    let dot = 0;
    for (let i = 0; i < d.hs; i++) dot += q[qo + i] * k[ko + i];
    p[s] = Math.exp(dot * d.scale - l);
  }
  return p;
}

export function attention(
  q: FloatArray,
  k: FloatArray,
  v: FloatArray,
  out: FloatArray,
  lse: FloatArray,
  d: Dims,
) {
  for (let b = 0; b < d.B; b++) {
    for (let h = 0; h < d.nh; h++) {
      for (let t = 0; t < d.T; t++) {
        const last = d.causal ? t : d.T - 1;
        const qo = at(d, b, t, h);
        const scores = new Float64Array(last + 1);
        let max = Number.NEGATIVE_INFINITY;
        for (let s = 0; s <= last; s++) {
          const ko = at(d, b, s, h);
          let dot = 0;
          for (let i = 0; i < d.hs; i++) dot += q[qo + i] * k[ko + i];
          scores[s] = dot * d.scale;
          max = Math.max(max, scores[s]);
        }
        let sum = 0;
        for (let s = 0; s <= last; s++) sum += Math.exp(scores[s] - max);
        const l = max + Math.log(sum);
        lse[(b * d.nh + h) * d.T + t] = l;
        for (let i = 0; i < d.hs; i++) {
          let acc = 0;
          for (let s = 0; s <= last; s++) acc += Math.exp(scores[s] - l) * v[at(d, b, s, h) + i];
          out[qo + i] = acc;
        }
      }
    }
  }
}

export function attentionGrad(
  q: FloatArray,
  k: FloatArray,
  v: FloatArray,
  out: FloatArray,
  lse: FloatArray,
  gOut: FloatArray,
  gq: FloatArray,
  gk: FloatArray,
  gv: FloatArray,
  d: Dims,
) {
  gq.fill(0);
  gk.fill(0);
  gv.fill(0);
  for (let b = 0; b < d.B; b++) {
    for (let h = 0; h < d.nh; h++) {
      for (let t = 0; t < d.T; t++) {
        const p = probabilities(q, k, lse, d, b, h, t);
        const last = d.causal ? t : d.T - 1;
        const to = at(d, b, t, h);
        // D = Σ_s p_s (gOut · v_s) = gOut · out, the softmax-backward correction.
        let D = 0;
        for (let i = 0; i < d.hs; i++) D += gOut[to + i] * out[to + i];
        for (let s = 0; s <= last; s++) {
          const so = at(d, b, s, h);
          let gp = 0;
          for (let i = 0; i < d.hs; i++) {
            gv[so + i] += p[s] * gOut[to + i];
            gp += gOut[to + i] * v[so + i];
          }
          const gScore = p[s] * (gp - D) * d.scale;
          for (let i = 0; i < d.hs; i++) {
            gq[to + i] += gScore * k[so + i];
            gk[so + i] += gScore * q[to + i];
          }
        }
      }
    }
  }
}
