// Fused neural-network kernels of the js backend: softmax, cross-entropy, RMSNorm, LayerNorm, rotary embedding.
// Readable row loops; accumulation in double.
import type { FloatArray } from './storage.ts';

export function softmax(x: FloatArray, out: FloatArray, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const lse = logSumExp(x, o, cols);
    for (let c = 0; c < cols; c++) out[o + c] = Math.exp(x[o + c] - lse);
  }
}

export function softmaxGrad(y: FloatArray, gy: FloatArray, gx: FloatArray, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let dot = 0;
    for (let c = 0; c < cols; c++) dot += gy[o + c] * y[o + c];
    for (let c = 0; c < cols; c++) gx[o + c] = y[o + c] * (gy[o + c] - dot);
  }
}

function logSumExp(x: FloatArray, o: number, cols: number): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let c = 0; c < cols; c++) max = Math.max(max, x[o + c]);
  let sum = 0;
  for (let c = 0; c < cols; c++) sum += Math.exp(x[o + c] - max);
  return max + Math.log(sum);
}

export function logSoftmax(x: FloatArray, out: FloatArray, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const lse = logSumExp(x, o, cols);
    for (let c = 0; c < cols; c++) out[o + c] = x[o + c] - lse;
  }
}

export function logSoftmaxGrad(
  y: FloatArray,
  gy: FloatArray,
  gx: FloatArray,
  rows: number,
  cols: number,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += gy[o + c];
    for (let c = 0; c < cols; c++) gx[o + c] = gy[o + c] - Math.exp(y[o + c]) * sum;
  }
}

export function crossEntropy(
  logits: FloatArray,
  targets: Int32Array,
  loss: FloatArray,
  lse: FloatArray,
  rows: number,
  cols: number,
): void {
  for (let r = 0; r < rows; r++) {
    const t = targets[r];
    if (t >= cols) throw new Error(`crossEntropy: target ${t} at row ${r} is outside the ${cols} classes`);
    const l = logSumExp(logits, r * cols, cols);
    lse[r] = l;
    loss[r] = t < 0 ? 0 : l - logits[r * cols + t];
  }
}

export function crossEntropyGrad(
  logits: FloatArray,
  targets: Int32Array,
  lse: FloatArray,
  gLoss: FloatArray,
  gLogits: FloatArray,
  rows: number,
  cols: number,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const t = targets[r];
    const g = t < 0 ? 0 : gLoss[r];
    for (let c = 0; c < cols; c++) {
      gLogits[o + c] = g * (Math.exp(logits[o + c] - lse[r]) - (c === t ? 1 : 0));
    }
  }
}

// ---- KL(teacher ‖ student) on logits (distillation) ----------------------------------------------

/** loss[r] = Σ_c p_t (log p_t − log p_s); both log-sum-exps kept for the gradient. */
export function klDivLogits(
  student: FloatArray,
  teacher: FloatArray,
  loss: FloatArray,
  lseS: FloatArray,
  lseT: FloatArray,
  rows: number,
  cols: number,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const ls = logSumExp(student, o, cols);
    const lt = logSumExp(teacher, o, cols);
    lseS[r] = ls;
    lseT[r] = lt;
    let sum = 0;
    for (let c = 0; c < cols; c++) {
      const logPt = teacher[o + c] - lt;
      sum += Math.exp(logPt) * (logPt - (student[o + c] - ls));
    }
    loss[r] = sum;
  }
}

/** gStudent[r, c] = gLoss[r] (p_s − p_t); the teacher is a target and gets no gradient. */
export function klDivLogitsGrad(
  student: FloatArray,
  teacher: FloatArray,
  lseS: FloatArray,
  lseT: FloatArray,
  gLoss: FloatArray,
  gStudent: FloatArray,
  rows: number,
  cols: number,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const g = gLoss[r];
    for (let c = 0; c < cols; c++) {
      gStudent[o + c] = g * (Math.exp(student[o + c] - lseS[r]) - Math.exp(teacher[o + c] - lseT[r]));
    }
  }
}

// ---- end KL on logits ----------------------------------------------------------------------------

export function rmsNorm(
  x: FloatArray,
  w: FloatArray,
  out: FloatArray,
  rstd: FloatArray,
  rows: number,
  cols: number,
  eps: number,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let ss = 0;
    for (let c = 0; c < cols; c++) ss += x[o + c] * x[o + c];
    const s = 1 / Math.sqrt(ss / cols + eps);
    rstd[r] = s;
    for (let c = 0; c < cols; c++) out[o + c] = x[o + c] * s * w[c];
  }
}

export function rmsNormGrad(
  x: FloatArray,
  w: FloatArray,
  rstd: FloatArray,
  gy: FloatArray,
  gx: FloatArray,
  gw: FloatArray,
  rows: number,
  cols: number,
  accumulate = false,
): void {
  const f32 = gx instanceof Float32Array;
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const s = rstd[r];
    // y = x s w with s = (mean x^2 + eps)^-1/2, so dx = s (gy w) - x s^3 mean(gy w x).
    let dot = 0;
    for (let c = 0; c < cols; c++) dot += gy[o + c] * w[c] * x[o + c];
    const k = (s * s * s * dot) / cols;
    for (let c = 0; c < cols; c++) {
      const d = s * gy[o + c] * w[c] - k * x[o + c];
      // Accumulating: the contribution as stored (f32 storage), then added, as the add pass it replaces.
      gx[o + c] = accumulate ? gx[o + c] + (f32 ? Math.fround(d) : d) : d;
      gw[c] += gy[o + c] * x[o + c] * s;
    }
  }
}

export function layerNorm(
  x: FloatArray,
  w: FloatArray | null,
  b: FloatArray | null,
  out: FloatArray,
  mean: FloatArray,
  rstd: FloatArray,
  rows: number,
  cols: number,
  eps: number,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let m = 0;
    for (let c = 0; c < cols; c++) m += x[o + c];
    m /= cols;
    let v = 0;
    for (let c = 0; c < cols; c++) v += (x[o + c] - m) ** 2;
    const s = 1 / Math.sqrt(v / cols + eps);
    mean[r] = m;
    rstd[r] = s;
    for (let c = 0; c < cols; c++) {
      out[o + c] = (x[o + c] - m) * s * (w ? w[c] : 1) + (b ? b[c] : 0);
    }
  }
}

export function layerNormGrad(
  x: FloatArray,
  w: FloatArray | null,
  mean: FloatArray,
  rstd: FloatArray,
  gy: FloatArray,
  gx: FloatArray,
  gw: FloatArray | null,
  gb: FloatArray | null,
  rows: number,
  cols: number,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const m = mean[r];
    const s = rstd[r];
    // With xhat = (x - m) s and g = gy w: dx = s (g - mean(g) - xhat mean(g xhat)).
    let gMean = 0;
    let gxhatMean = 0;
    for (let c = 0; c < cols; c++) {
      const g = gy[o + c] * (w ? w[c] : 1);
      gMean += g;
      gxhatMean += g * (x[o + c] - m) * s;
    }
    gMean /= cols;
    gxhatMean /= cols;
    for (let c = 0; c < cols; c++) {
      const xhat = (x[o + c] - m) * s;
      const g = gy[o + c] * (w ? w[c] : 1);
      gx[o + c] = s * (g - gMean - xhat * gxhatMean);
      if (gw) gw[c] += gy[o + c] * xhat;
      if (gb) gb[c] += gy[o + c];
    }
  }
}

/** Rotary embedding; `load` maps each element of x as it is read (the rounding of rope's roundInput). */
export function rope(
  x: FloatArray,
  out: FloatArray,
  B: number,
  T: number,
  nh: number,
  hs: number,
  base: number,
  posOffset: number,
  direction: 1 | -1,
  load: (v: number) => number = (v) => v,
): void {
  const half = hs / 2;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const pos = posOffset + t;
      for (let h = 0; h < nh; h++) {
        const o = ((b * T + t) * nh + h) * hs;
        for (let j = 0; j < half; j++) {
          const angle = pos * base ** ((-2 * j) / hs);
          const cos = Math.cos(angle);
          const sin = direction * Math.sin(angle);
          const x0 = load(x[o + j]);
          const x1 = load(x[o + j + half]);
          out[o + j] = x0 * cos - x1 * sin;
          out[o + j + half] = x0 * sin + x1 * cos;
        }
      }
    }
  }
}
