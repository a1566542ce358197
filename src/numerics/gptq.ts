// GPTQ (Frantar et al. 2022, arXiv 2210.17323): quantize a linear layer's weight W (rows = outputs,
// cols = inputs) column by column, pushing each column's rounding error onto the columns not yet quantized
// through the inverse Hessian of the layer's reconstruction loss, H = 2/n X^T X over calibration inputs X.
//   damping: H += dampPercent * mean(diag H) * I; dead inputs (H_ii = 0) get H_ii = 1 and W[:, i] = 0
//   U = chol(H^-1) upper; for column i: q = quant(w_i), e = (w_i - q) / U_ii, W[:, j>i] -= e U[i, j]
//   lazy blocks: inside a block of `blockSize` columns updates stay local; the rest of W is updated once per
//   block with one matrix product (the paper's Algorithm 1).
//   act-order: columns in order of decreasing H_ii; group scales are then fixed up front from the original
//   W in the original column order ("static groups"), so groups stay contiguous for storage.

import { NumericsError } from './errors.ts';
import { inverseCholeskyUpper } from './linalg.ts';
import { chooseParams, type GroupParams, quantizerFor, quantizeValue } from './quantizer.ts';
import { type FakeQuantSpec, validateSpec } from './spec.ts';

/** C (m, n) += A^T B for A (k, m), B (k, n), row-major: the products GPTQ spends its time in. */
export type MatmulTransA = (
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  m: number,
  n: number,
  k: number,
) => void;

export interface GptqOptions {
  bits: number;
  /** Columns per group sharing a scale; 0 = one group per row (per-channel). */
  groupSize?: number;
  symmetric?: boolean;
  actOrder?: boolean;
  dampPercent?: number;
  blockSize?: number;
}

export interface GptqResult {
  /** The dequantized weight, (rows, cols). */
  weight: Float32Array;
  /** Integer codes 0..2^bits-1 (symmetric: q + 2^(bits-1)), (rows, cols): pack with packBits. */
  codes: Uint8Array;
  /** Per (row, group) scale and zero point (in code units), (rows, cols / groupSize). */
  scales: Float32Array;
  zeros: Float32Array;
}

/** H = 2/n X^T X for calibration inputs X (tokens, cols), as Float64. */
export function hessianFromActivations(
  x: Float32Array,
  tokens: number,
  cols: number,
  matmul?: MatmulTransA,
): Float64Array {
  if (x.length < tokens * cols)
    throw new NumericsError('x.length', x.length, `at least tokens * cols = ${tokens * cols}`);
  const h = new Float64Array(cols * cols);
  if (matmul) {
    const c = new Float32Array(cols * cols);
    matmul(x, x, c, cols, cols, tokens);
    for (let i = 0; i < c.length; i++) h[i] = (2 / tokens) * c[i];
    return h;
  }
  for (let t = 0; t < tokens; t++) {
    const row = t * cols;
    for (let i = 0; i < cols; i++) {
      const xi = x[row + i];
      if (xi === 0) continue;
      const hi = i * cols;
      for (let j = 0; j <= i; j++) h[hi + j] += xi * x[row + j];
    }
  }
  for (let i = 0; i < cols; i++) {
    for (let j = 0; j <= i; j++) {
      const v = (2 / tokens) * h[i * cols + j];
      h[i * cols + j] = v;
      h[j * cols + i] = v;
    }
  }
  return h;
}

export function gptqQuantize(
  w: Float32Array,
  rows: number,
  cols: number,
  hessian: Float64Array,
  options: GptqOptions,
): GptqResult {
  const {
    bits,
    groupSize = 0,
    symmetric = true,
    actOrder = false,
    dampPercent = 0.01,
    blockSize = 128,
  } = options;
  const group = groupSize === 0 ? cols : groupSize;
  const spec: FakeQuantSpec = {
    format: { kind: 'int', bits },
    symmetric,
    granularity: { kind: 'group', size: group },
    scale: { kind: 'absmax' },
    rounding: { kind: 'nearest' },
  };
  validateSpec(spec, rows, cols);
  if (w.length < rows * cols)
    throw new NumericsError('w.length', w.length, `at least rows * cols = ${rows * cols}`);
  if (hessian.length !== cols * cols)
    throw new NumericsError('hessian.length', hessian.length, `cols * cols = ${cols * cols}`);
  if (!(dampPercent >= 0)) throw new NumericsError('dampPercent', dampPercent, 'a non-negative number');
  const qz = quantizerFor(spec);
  const groups = cols / group;

  // Column order and the working copies in that order.
  const perm = Array.from({ length: cols }, (_, i) => i);
  if (actOrder) perm.sort((a, b) => hessian[b * cols + b] - hessian[a * cols + a] || a - b);
  const W = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) W[r * cols + j] = w[r * cols + perm[j]];
  const H = new Float64Array(cols * cols);
  for (let i = 0; i < cols; i++)
    for (let j = 0; j < cols; j++) H[i * cols + j] = hessian[perm[i] * cols + perm[j]];
  let meanDiag = 0;
  for (let i = 0; i < cols; i++) {
    if (H[i * cols + i] === 0) {
      H[i * cols + i] = 1;
      for (let r = 0; r < rows; r++) W[r * cols + i] = 0;
    }
    meanDiag += H[i * cols + i] / cols;
  }
  for (let i = 0; i < cols; i++) H[i * cols + i] += dampPercent * meanDiag;
  const U = inverseCholeskyUpper(H, cols);

  const params: GroupParams[] = new Array(rows * groups);
  const values = new Float64Array(group);
  const findParams = (
    source: Float64Array | Float32Array,
    r: number,
    g: number,
    columnOf: (k: number) => number,
  ) => {
    for (let k = 0; k < group; k++) values[k] = source[r * cols + columnOf(g * group + k)];
    params[r * groups + g] = chooseParams(qz, values, group);
  };
  if (actOrder) for (let r = 0; r < rows; r++) for (let g = 0; g < groups; g++) findParams(w, r, g, (k) => k);

  const Q = new Float64Array(rows * cols);
  const B = blockSize;
  const W1 = new Float64Array(rows * B);
  const E1 = new Float64Array(rows * B);
  for (let i1 = 0; i1 < cols; i1 += B) {
    const i2 = Math.min(i1 + B, cols);
    const count = i2 - i1;
    for (let r = 0; r < rows; r++) for (let k = 0; k < count; k++) W1[r * B + k] = W[r * cols + i1 + k];
    for (let k = 0; k < count; k++) {
      const col = i1 + k; // position in the processing order
      const original = perm[col];
      const g = Math.floor((actOrder ? original : col) / group);
      if (!actOrder && col % group === 0) {
        // Scales from the already-updated columns of this group, as the reference implementation does.
        for (let r = 0; r < rows; r++) {
          for (let j = 0; j < group; j++) {
            const c = col + j;
            values[j] = c < i2 ? W1[r * B + (c - i1)] : W[r * cols + c];
          }
          params[r * groups + g] = chooseParams(qz, values, group);
        }
      }
      const urow = col * cols;
      const d = U[urow + col];
      for (let r = 0; r < rows; r++) {
        const wv = W1[r * B + k];
        const q = quantizeValue(qz, params[r * groups + g], wv, 0, false);
        Q[r * cols + col] = q;
        const err = (wv - q) / d;
        E1[r * B + k] = err;
        const rb = r * B;
        for (let j = k + 1; j < count; j++) W1[rb + j] -= err * U[urow + i1 + j];
      }
    }
    // Lazy batch update of the remaining columns: W[:, i2:] -= E1 (rows, count) U[i1:i2, i2:].
    for (let r = 0; r < rows; r++) {
      const wr = r * cols;
      for (let k = 0; k < count; k++) {
        const e = E1[r * B + k];
        if (e === 0) continue;
        const ur = (i1 + k) * cols;
        for (let j = i2; j < cols; j++) W[wr + j] -= e * U[ur + j];
      }
    }
  }

  // Back to the original column order, with codes for storage.
  const weight = new Float32Array(rows * cols);
  const codes = new Uint8Array(rows * cols);
  const scales = new Float32Array(rows * groups);
  const zeros = new Float32Array(rows * groups);
  const offset = symmetric ? 2 ** (bits - 1) : 0;
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      scales[r * groups + g] = params[r * groups + g].scale;
      zeros[r * groups + g] = params[r * groups + g].zero;
    }
    for (let col = 0; col < cols; col++) {
      const original = perm[col];
      const p = params[r * groups + Math.floor((actOrder ? original : col) / group)];
      const q = Q[r * cols + col];
      weight[r * cols + original] = q;
      codes[r * cols + original] = Math.round(q / p.scale + p.zero) + offset;
    }
  }
  return { weight, codes, scales, zeros };
}
