// The `js` backend: every kernel of the interface in plain TypeScript. Slow and obviously correct — the oracle
// that the native backends are tested against. createJsBackend({ float64: true }) computes in double precision
// for finite-difference gradient checks.

import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from '../../base/half.ts';
import { philoxFill } from '../../base/philox.ts';
import { fakeQuantArray } from '../../numerics/fake-quant.ts';
import type { AdamWArgs, Backend, DType, MatmulArgs } from '../backend.ts';
import { attention, attentionGrad } from './attention.ts';
import { applyBinary, applyUnary, unaryDerivative } from './elementwise.ts';
import * as nn from './nn.ts';
import { packedGemm } from './packed.ts';
import { allocate, type FloatArray, forEachStrided, type JsStorage } from './storage.ts';

export interface JsBackendOptions {
  float64?: boolean;
}

const f = (s: JsStorage) => s as FloatArray;
const i32 = (s: JsStorage) => s as Int32Array;

function toF32(storage: JsStorage, dtype: DType, i: number): number {
  if (dtype === 'bf16') return bf16BitsToF32(storage[i]);
  if (dtype === 'f16') return f16BitsToF32(storage[i]);
  return storage[i];
}

function fromF32(value: number, dtype: DType): number {
  if (dtype === 'bf16') return f32ToBf16Bits(value);
  if (dtype === 'f16') return f32ToF16Bits(value);
  if (dtype === 'i32') return Math.trunc(value);
  return value;
}

/** v rounded to `to` and back, as cast there and back (roundTo) rounds it; without `to`, v as it is. */
function roundValue(v: number, to: 'bf16' | 'f16' | undefined): number {
  if (to === 'bf16') return bf16BitsToF32(f32ToBf16Bits(v));
  if (to === 'f16') return f16BitsToF32(f32ToF16Bits(v));
  return v;
}

/** The first n values of x rounded to `to` in place (an op's output rounded as it is stored); none without `to`. */
function roundInPlace(x: FloatArray, n: number, to: 'bf16' | 'f16' | undefined): void {
  if (to) for (let i = 0; i < n; i++) x[i] = roundValue(x[i], to);
}

/** x read rounded to `to`: a rounded copy (x itself without `to`). */
const roundedCopy = (x: FloatArray, to: 'bf16' | 'f16' | undefined) =>
  to ? x.map((v) => roundValue(v, to)) : x;

export function createJsBackend(options: JsBackendOptions = {}): Backend<JsStorage> {
  const Float = options.float64 ? Float64Array : Float32Array;
  const stored = options.float64 ? (x: number) => x : Math.fround;
  return {
    name: options.float64 ? 'js64' : 'js',

    alloc: (dtype, size) => allocate(dtype, size, Float),
    free: () => {},
    write(storage, dtype, data, offset = 0) {
      for (let i = 0; i < data.length; i++) storage[offset + i] = fromF32(data[i], dtype);
    },
    read(storage, dtype, size) {
      if (dtype === 'i32') return Int32Array.from(storage.subarray(0, size));
      const out = new Float(size);
      for (let i = 0; i < size; i++) out[i] = toF32(storage, dtype, i);
      return out;
    },

    fill: (out, n, value) => out.fill(value, 0, n),
    strided(x, xOffset, xStrides, out, outOffset, outStrides, shape) {
      forEachStrided(shape, [xStrides, outStrides], (o) => (out[o[1]] = x[o[0]]), [xOffset, outOffset]);
    },
    cast(x, from, out, to, n) {
      for (let i = 0; i < n; i++) out[i] = fromF32(toF32(x, from, i), to);
    },

    unary(op, x, out, n) {
      for (let i = 0; i < n; i++) out[i] = applyUnary(op, x[i]);
    },
    unaryGrad(op, x, gy, gx, n) {
      for (let i = 0; i < n; i++) gx[i] = gy[i] * unaryDerivative(op, x[i]);
    },
    binary(op, a, aStrides, b, bStrides, out, shape) {
      const outStrides = denseStrides(shape);
      forEachStrided(
        shape,
        [aStrides, bStrides, outStrides],
        (o) => (out[o[2]] = applyBinary(op, a[o[0]], b[o[1]])),
        [0, 0, 0],
      );
    },
    where(cond, cStrides, a, aStrides, b, bStrides, out, shape) {
      const outStrides = denseStrides(shape);
      forEachStrided(
        shape,
        [cStrides, aStrides, bStrides, outStrides],
        (o) => (out[o[3]] = cond[o[0]] !== 0 ? a[o[1]] : b[o[2]]),
        [0, 0, 0, 0],
      );
    },
    affine(x, out, n, mul, add) {
      for (let i = 0; i < n; i++) out[i] = mul * x[i] + add;
    },
    // Intermediates rounded to the storage precision as the unfused silu and mul store them: bit-identical.
    // With `round`, gate and up rounded on load as roundTo rounds them.
    swiglu(gate, up, out, n, round, roundOutput) {
      for (let i = 0; i < n; i++) {
        const y = stored(applyUnary('silu', roundValue(gate[i], round))) * roundValue(up[i], round);
        out[i] = roundValue(stored(y), roundOutput);
      }
    },
    swigluGrad(gate, up, gy, gGate, gUp, n, round, roundGy, roundGrads) {
      for (let i = 0; i < n; i++) {
        const g = roundValue(gate[i], round);
        const dy = roundValue(gy[i], roundGy);
        gGate[i] = roundValue(
          stored(stored(dy * roundValue(up[i], round)) * unaryDerivative('silu', g)),
          roundGrads,
        );
        gUp[i] = roundValue(stored(dy * stored(applyUnary('silu', g))), roundGrads);
      }
    },
    roundTo(x, out, to, n) {
      for (let i = 0; i < n; i++) out[i] = roundValue(x[i], to);
    },

    reduce(op, x, out, outer, mid, inner) {
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          let acc = op === 'sum' ? 0 : Number.NEGATIVE_INFINITY;
          for (let m = 0; m < mid; m++) {
            const v = x[(o * mid + m) * inner + i];
            acc = op === 'sum' ? acc + v : Math.max(acc, v);
          }
          out[o * inner + i] = acc;
        }
      }
    },
    sumSquares,
    sumSquaresMany(xs, ns) {
      let s = 0;
      for (let k = 0; k < xs.length; k++) s += sumSquares(xs[k], ns[k]);
      return s;
    },
    columnStats,

    matmul(a, b, out, args) {
      matmul(f(a), f(b), f(out), args);
      const { roundOutput, batch, m, n } = args;
      roundInPlace(f(out), batch * m * n, roundOutput);
    },

    gather(table, idx, out, nIdx, rowSize) {
      const rows = table.length / rowSize;
      for (let i = 0; i < nIdx; i++) {
        const r = idx[i];
        if (r < 0 || r >= rows)
          throw new Error(`gather: index ${r} at position ${i} is outside [0, ${rows})`);
        for (let c = 0; c < rowSize; c++) out[i * rowSize + c] = table[r * rowSize + c];
      }
    },
    scatterAdd(src, idx, out, nIdx, rowSize) {
      const rows = out.length / rowSize;
      for (let i = 0; i < nIdx; i++) {
        const r = idx[i];
        if (r < 0 || r >= rows)
          throw new Error(`scatterAdd: index ${r} at position ${i} is outside [0, ${rows})`);
        for (let c = 0; c < rowSize; c++) out[r * rowSize + c] += src[i * rowSize + c];
      }
    },

    softmax: (x, out, rows, cols) => nn.softmax(f(x), f(out), rows, cols),
    softmaxGrad: (y, gy, gx, rows, cols) => nn.softmaxGrad(f(y), f(gy), f(gx), rows, cols),
    logSoftmax: (x, out, rows, cols) => nn.logSoftmax(f(x), f(out), rows, cols),
    logSoftmaxGrad: (y, gy, gx, rows, cols) => nn.logSoftmaxGrad(f(y), f(gy), f(gx), rows, cols),
    crossEntropy: (logits, t, loss, lse, rows, cols, roundLogits) =>
      nn.crossEntropy(roundedCopy(f(logits), roundLogits), i32(t), f(loss), f(lse), rows, cols),
    crossEntropyGrad(logits, t, lse, gLoss, gLogits, rows, cols, roundLogits, roundGrads) {
      nn.crossEntropyGrad(
        roundedCopy(f(logits), roundLogits),
        i32(t),
        f(lse),
        f(gLoss),
        f(gLogits),
        rows,
        cols,
      );
      roundInPlace(f(gLogits), rows * cols, roundGrads);
    },
    // KL(teacher ‖ student) on logits (distillation)
    klDivLogits: (s, t, loss, lseS, lseT, rows, cols) =>
      nn.klDivLogits(f(s), f(t), f(loss), f(lseS), f(lseT), rows, cols),
    klDivLogitsGrad: (s, t, lseS, lseT, gLoss, gS, rows, cols) =>
      nn.klDivLogitsGrad(f(s), f(t), f(lseS), f(lseT), f(gLoss), f(gS), rows, cols),
    rmsNorm: (x, w, out, rstd, rows, cols, eps) => nn.rmsNorm(f(x), f(w), f(out), f(rstd), rows, cols, eps),
    addRmsNorm(x, r, w, sum, out, rstd, rows, cols, eps, roundDelta, roundOutput) {
      for (let i = 0; i < rows * cols; i++) sum[i] = x[i] + roundValue(r[i], roundDelta);
      nn.rmsNorm(f(sum), f(w), f(out), f(rstd), rows, cols, eps);
      roundInPlace(f(out), rows * cols, roundOutput);
    },
    rmsNormGrad: (x, w, rstd, gy, gx, gw, rows, cols, accumulate, roundGy) => {
      const g = roundGy ? f(gy).map((v) => roundValue(v, roundGy)) : f(gy);
      nn.rmsNormGrad(f(x), f(w), f(rstd), g, f(gx), f(gw), rows, cols, accumulate);
    },
    layerNorm: (x, w, b, out, mean, rstd, rows, cols, eps) =>
      nn.layerNorm(f(x), w && f(w), b && f(b), f(out), f(mean), f(rstd), rows, cols, eps),
    layerNormGrad: (x, w, mean, rstd, gy, gx, gw, gb, rows, cols) =>
      nn.layerNormGrad(f(x), w && f(w), f(mean), f(rstd), f(gy), f(gx), gw && f(gw), gb && f(gb), rows, cols),
    rope(x, out, B, T, nh, hs, base, posOffset, direction, roundInput, roundOutput) {
      nn.rope(f(x), f(out), B, T, nh, hs, base, posOffset, direction, (v) => roundValue(v, roundInput));
      roundInPlace(f(out), B * T * nh * hs, roundOutput);
    },
    attention: (q, k, v, out, lse, B, T, nh, hs, scale, causal) =>
      attention(f(q), f(k), f(v), f(out), f(lse), { B, T, nh, hs, scale, causal }),
    attentionGrad: (q, k, v, out, lse, gOut, gq, gk, gv, B, T, nh, hs, scale, causal) =>
      attentionGrad(f(q), f(k), f(v), f(out), f(lse), f(gOut), f(gq), f(gk), f(gv), {
        B,
        T,
        nh,
        hs,
        scale,
        causal,
      }),

    random: (out, n, dist, seed, offset) => philoxFill(out, n, dist, seed, offset),
    dropout(x, out, n, p, seed, offset) {
      const u = new Float64Array(n);
      philoxFill(u, n, 'uniform', seed, offset);
      const keep = 1 / (1 - p);
      for (let i = 0; i < n; i++) out[i] = u[i] >= p ? x[i] * keep : 0;
    },

    adamw: (param, grad, m, v, n, args) => adamw(f(param), f(grad), f(m), f(v), n, args),

    packedGemm: (codes, g, h, x, y, rows, cols, batch, ternary) =>
      packedGemm(i32(codes), f(g), f(h), f(x), f(y), rows, cols, batch, ternary),

    fakeQuant(spec, x, out, rows, cols, steMask, roundOutput) {
      fakeQuantArray(spec, f(x), f(out), rows, cols, steMask && f(steMask));
      roundInPlace(f(out), rows * cols, roundOutput);
    },
  };
}

export function denseStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = shape[d] === 1 ? 0 : s;
    s *= shape[d];
  }
  return strides;
}

function matmul(a: FloatArray, b: FloatArray, c: FloatArray, args: MatmulArgs): void {
  const { batch, m, n, k, transA, transB, aBatchStride, bBatchStride, alpha, accumulate } = args;
  const f32 = c instanceof Float32Array;
  for (let p = 0; p < batch; p++) {
    const ao = p * aBatchStride;
    const bo = p * bBatchStride;
    const co = p * m * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let l = 0; l < k; l++) {
          const av = transA ? a[ao + l * m + i] : a[ao + i * k + l];
          const bv = transB ? b[bo + j * k + l] : b[bo + l * n + j];
          acc += av * bv;
        }
        // Accumulating: the product as stored (f32 storage), then added to what c holds.
        const v = alpha * acc;
        c[co + i * n + j] = accumulate ? (f32 ? Math.fround(v) : v) + c[co + i * n + j] : v;
      }
    }
  }
}

function sumSquares(x: JsStorage, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i] * x[i];
  return s;
}

/** Backend.columnStats, plainly: the mean first, then the central moments about it, all in double. */
function columnStats(x: JsStorage, out: JsStorage, rows: number, cols: number, threshold: number): void {
  const n = rows * cols;
  out.fill(0, 0, 4 + cols);
  if (n === 0) return;
  const limit = Math.fround(threshold);
  let maxAbs = 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    if (Math.abs(x[i]) > maxAbs) maxAbs = Math.abs(x[i]); // NaN is passed over, as fmax does
    sum += x[i];
  }
  const mean = sum / n;
  let m2 = 0;
  let m4 = 0;
  for (let i = 0; i < n; i++) {
    const d2 = (x[i] - mean) ** 2;
    m2 += d2;
    m4 += d2 * d2;
  }
  const hits = new Float64Array(cols);
  for (let i = 0; i < n; i++) if (Math.abs(x[i]) >= limit) hits[i % cols]++;
  for (let c = 0; c < cols; c++) out[4 + c] = hits[c] / rows;
  out[0] = maxAbs;
  out[1] = mean;
  out[2] = m2 / n;
  out[3] = m4 / n;
}

function adamw(p: FloatArray, g: FloatArray, m: FloatArray, v: FloatArray, n: number, args: AdamWArgs): void {
  const { lr, beta1, beta2, eps, weightDecay, step, gradScale } = args;
  const c1 = 1 - beta1 ** step;
  const c2 = 1 - beta2 ** step;
  for (let i = 0; i < n; i++) {
    const gi = g[i] * gradScale;
    m[i] = beta1 * m[i] + (1 - beta1) * gi;
    v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
    const update = m[i] / c1 / (Math.sqrt(v[i] / c2) + eps);
    p[i] = p[i] - lr * (update + weightDecay * p[i]);
  }
}
