// GPTQ (Frantar et al. 2022, arXiv 2210.17323): quantize a linear layer's weight W (rows = outputs,
// cols = inputs) column by column, pushing each column's rounding error onto the columns not yet quantized
// through the inverse Hessian of the layer's reconstruction loss, H = 2/n X^T X over calibration inputs X.
//   damping: H += dampPercent * mean(diag H) * I; dead inputs (H_ii = 0) get H_ii = 1 and W[:, i] = 0
//   U = chol(H^-1) upper; for column i: q = quant(w_i), e = (w_i - q) / U_ii, W[:, j>i] -= e U[i, j]
//   lazy blocks: inside a block of `blockSize` columns updates stay local; the rest of W is updated once per
//   block with one matrix product (the paper's Algorithm 1).
//   act-order: columns in order of decreasing H_ii; group scales are then fixed up front from the original
//   W in the original column order ("static groups"), so groups stay contiguous for storage.
// The Hessian, the inverse Cholesky factor and the block loop run on native kernels when the cpu backend has
// registered them (gptq-kernels.ts); the TypeScript loops below are the reference they are tested against.

import { NumericsError } from './errors.ts';
import { type GptqKernels, gptqKernels } from './gptq-kernels.ts';
import { inverseCholeskyUpper } from './linalg.ts';
import { chooseParams, type GroupParams, type Quantizer, quantizerFor, quantizeValue } from './quantizer.ts';
import { type FakeQuantSpec, validateSpec } from './spec.ts';

export interface GptqOptions {
  bits: number;
  /** Columns per group sharing a scale; 0 = one group per row (per-channel). */
  groupSize?: number;
  symmetric?: boolean;
  actOrder?: boolean;
  dampPercent?: number;
  blockSize?: number;
  /** Native kernels for the heavy parts; default: the registered ones (gptq-kernels.ts); null: TypeScript. */
  kernels?: GptqKernels | null;
  /** Native loop only: columns per span of its two-level lazy update (default 1024; tests use small spans). */
  spanColumns?: number;
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

/** H = 2/n X^T X for calibration inputs X (tokens, cols), as Float64 (native kernels when registered). */
export function hessianFromActivations(
  x: Float32Array,
  tokens: number,
  cols: number,
  kernels: GptqKernels | null = gptqKernels(),
): Float64Array {
  if (x.length < tokens * cols)
    throw new NumericsError('x.length', x.length, `at least tokens * cols = ${tokens * cols}`);
  const h = new Float64Array(cols * cols);
  if (kernels) {
    kernels.hessian(x, tokens, cols, h);
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

/** The state the block loop works on, in processing (column) order. */
interface GptqWork {
  qz: Quantizer;
  rows: number;
  cols: number;
  group: number;
  /** (rows, cols): the weight being updated, and the quantized values. */
  W: Float64Array;
  Q: Float64Array;
  /** (cols, cols): the upper inverse Cholesky factor of the damped Hessian. */
  U: Float64Array;
  /** (rows, cols / group): each (row, group)'s scale and zero point. */
  scales: Float64Array;
  zeros: Float64Array;
  /** The group of each processing position. */
  groupOf: Int32Array;
  /** True: scales and zeros are fixed up front (act-order); false: chosen at each group's first column. */
  paramsFixed: boolean;
  blockSize: number;
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
    kernels = gptqKernels(),
    spanColumns = 1024,
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
  for (const [name, value] of [
    ['blockSize', blockSize],
    ['spanColumns', spanColumns],
  ] as const) {
    if (!(Number.isInteger(value) && value >= 1)) throw new NumericsError(name, value, 'a whole number >= 1');
  }
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
  // The native kernel factors H in place; the reference returns a new array.
  let U: Float64Array = H;
  if (kernels) kernels.inverseCholeskyUpper(H, cols);
  else U = inverseCholeskyUpper(H, cols);

  const work: GptqWork = {
    qz,
    rows,
    cols,
    group,
    W,
    Q: new Float64Array(rows * cols),
    U,
    scales: new Float64Array(rows * groups),
    zeros: new Float64Array(rows * groups),
    groupOf: Int32Array.from(perm, (original, col) => Math.floor((actOrder ? original : col) / group)),
    paramsFixed: actOrder,
    blockSize,
  };
  if (actOrder) {
    // Static groups: scales from the original weight in the original column order.
    const values = new Float64Array(group);
    for (let r = 0; r < rows; r++) {
      for (let g = 0; g < groups; g++) {
        for (let k = 0; k < group; k++) values[k] = w[r * cols + g * group + k];
        const p = chooseParams(qz, values, group);
        work.scales[r * groups + g] = p.scale;
        work.zeros[r * groups + g] = p.zero;
      }
    }
  }
  if (kernels) quantizeBlocksNative(work, kernels, bits, symmetric, spanColumns);
  else quantizeBlocks(work);

  // Back to the original column order, with codes for storage.
  const weight = new Float32Array(rows * cols);
  const codes = new Uint8Array(rows * cols);
  const offset = symmetric ? 2 ** (bits - 1) : 0;
  const { Q, scales, zeros, groupOf } = work;
  for (let r = 0; r < rows; r++) {
    for (let col = 0; col < cols; col++) {
      const original = perm[col];
      const p = r * groups + groupOf[col];
      const q = Q[r * cols + col];
      weight[r * cols + original] = q;
      codes[r * cols + original] = Math.round(q / scales[p] + zeros[p]) + offset;
    }
  }
  return { weight, codes, scales: Float32Array.from(scales), zeros: Float32Array.from(zeros) };
}

/**
 * The block loop on the native kernels: one call for the columns of a block, and the lazy updates in two
 * levels. Blocks are grouped into spans of about spanColumns columns; a block's errors update the rest of
 * its span at once, and a span's errors update every later column at once. The sums are the reference's,
 * grouped differently (the same up to rounding), but each update of the whole weight is one product of
 * rank ~1024 instead of 128: an eighth of the passes over the weight, which dominate the time at 4096.
 */
function quantizeBlocksNative(
  work: GptqWork,
  kernels: GptqKernels,
  bits: number,
  symmetric: boolean,
  spanColumns: number,
): void {
  const { rows, cols, group, blockSize: B } = work;
  let span = B * Math.max(1, Math.round(spanColumns / B));
  // A group whose scale is chosen mid-span must not reach past the span (it would read columns that still
  // miss the span's updates): spans and groups nest, or there is one span.
  if (!work.paramsFixed && span % group !== 0 && group % span !== 0) span = cols;
  const err = new Float64Array(rows * Math.min(span, cols));
  for (let s1 = 0; s1 < cols; s1 += span) {
    const s2 = Math.min(s1 + span, cols);
    const ld = s2 - s1;
    for (let i1 = s1; i1 < s2; i1 += B) {
      const i2 = Math.min(i1 + B, s2);
      const e = err.subarray(i1 - s1);
      kernels.quantizeBlock(
        work.W,
        work.Q,
        e,
        ld,
        work.U,
        work.scales,
        work.zeros,
        work.groupOf,
        rows,
        cols,
        i1,
        i2,
        group,
        bits,
        symmetric,
        work.paramsFixed,
      );
      kernels.lazyUpdate(work.W, e, ld, work.U, rows, cols, i1, i2, s2);
    }
    kernels.lazyUpdate(work.W, err, ld, work.U, rows, cols, s1, s2, cols);
  }
}

/** The reference block loop, in TypeScript (the paper's Algorithm 1). */
function quantizeBlocks(work: GptqWork): void {
  const { qz, rows, cols, group, W, Q, U, scales, zeros, groupOf, blockSize: B } = work;
  const groups = cols / group;
  const params: GroupParams[] = Array.from(scales, (scale, i) => ({ scale, zero: zeros[i] }));
  const values = new Float64Array(group);
  const W1 = new Float64Array(rows * B);
  const E1 = new Float64Array(rows * B);
  for (let i1 = 0; i1 < cols; i1 += B) {
    const i2 = Math.min(i1 + B, cols);
    const count = i2 - i1;
    for (let r = 0; r < rows; r++) for (let k = 0; k < count; k++) W1[r * B + k] = W[r * cols + i1 + k];
    for (let k = 0; k < count; k++) {
      const col = i1 + k; // position in the processing order
      const g = groupOf[col];
      if (!work.paramsFixed && col % group === 0) {
        // Scales from the already-updated columns of this group, as the reference implementation does.
        for (let r = 0; r < rows; r++) {
          for (let j = 0; j < group; j++) {
            const c = col + j;
            values[j] = c < i2 ? W1[r * B + (c - i1)] : W[r * cols + c];
          }
          const p = chooseParams(qz, values, group);
          params[r * groups + g] = p;
          scales[r * groups + g] = p.scale;
          zeros[r * groups + g] = p.zero;
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
}
