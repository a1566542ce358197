// The OneBit linear layer for training (Xu et al. 2024): Y = ((X ⊙ g) Sᵀ) ⊙ h with S = sign(W) ∈ {±1}
// taken from latent weights W, and value vectors g (input size) and h (output size) in full precision.
// The sign passes gradient to W by OneBit's straight-through rule, dW = dS ⊙ (1.001 - tanh²(W)). SVID
// initialization (svid.ts) starts from a trained weight: W itself as the latent (so S = sign(W)) and the
// rank-1 approximation a bᵀ ≈ |W| as h = a, g = b.
import { svid } from '../numerics/svid.ts';
import * as T from '../tensor/index.ts';
import { OneBitError } from './errors.ts';
import { packSigns } from './packed.ts';
import type { PackedLinear } from './packed-file.ts';

/** sign(W) with sign(0) = +1 (as packed.ts stores it); the backward is OneBit's 1.001 - tanh²(W) window. */
export function signSte(latent: T.Tensor): T.Tensor {
  const out = T.noGrad(() => T.tidy(() => T.affine(T.ge(latent, 0), 2, -1)));
  return T.record(out, 'onebitSign', [latent], (dS) => [
    T.tidy(() => T.mul(dS, T.affine(T.square(T.tanh(latent)), -1, 1.001))),
  ]);
}

/** Y (..., rows) = ((X ⊙ g) sign(W)ᵀ) ⊙ h for X (..., cols), W (rows, cols), g (cols), h (rows). */
export function onebitLinear(x: T.Tensor, w: T.Tensor, g: T.Tensor, h: T.Tensor): T.Tensor {
  if (w.rank !== 2) throw new OneBitError('w.shape', `[${w.shape}]`, '(rows, cols)');
  const [rows, cols] = w.shape;
  if (g.rank !== 1 || g.shape[0] !== cols) throw new OneBitError('g.shape', `[${g.shape}]`, `[${cols}]`);
  if (h.rank !== 1 || h.shape[0] !== rows) throw new OneBitError('h.shape', `[${h.shape}]`, `[${rows}]`);
  if (x.rank < 1 || x.shape[x.rank - 1] !== cols)
    throw new OneBitError('x.shape', `[${x.shape}]`, `last axis = cols = ${cols}`);
  const x2 = x.rank === 1 ? T.reshape(x, [1, cols]) : x;
  // The same product as X diag(g) Sᵀ diag(h), with g and h applied to the (rows, cols) weight rather than to
  // the (tokens, ·) activations: forward and backward then cost a plain linear's passes over activations.
  const weight = T.mul(T.mul(signSte(w), T.reshape(h, [rows, 1])), g);
  const y = T.matmul(x2, weight, { transB: true });
  return x.rank === 1 ? T.reshape(y, [rows]) : y;
}

/**
 * The layer as OneBit's public code runs it inside a model: the product above, then a LayerNorm without
 * affine parameters over the output (its BitLinear; eps 1e-5). Packed inference must apply the same norm.
 */
export function onebitLayer(x: T.Tensor, w: T.Tensor, g: T.Tensor, h: T.Tensor): T.Tensor {
  return T.layerNorm(onebitLinear(x, w, g, h), null, null, ONEBIT_NORM_EPS);
}

export const ONEBIT_NORM_EPS = 1e-5;

/** A layer's trainable values, row-major: latent W (rows * cols), g (cols), h (rows). */
export interface OneBitInit {
  rows: number;
  cols: number;
  w: Float32Array;
  g: Float32Array;
  h: Float32Array;
  /** ||W - sign(W) ⊙ h gᵀ||_F / ||W||_F of the initialization. */
  relativeError: number;
}

export type SvidMethod = 'nmf' | 'svd';

/** SVID initialization from a trained (rows, cols) weight: rank-1 of |W| by NMF (OneBit's code) or SVD. */
export function svidInit(
  weight: Float32Array,
  rows: number,
  cols: number,
  method: SvidMethod = 'nmf',
): OneBitInit {
  if (method !== 'nmf' && method !== 'svd') throw new OneBitError('method', method, "'nmf' or 'svd'");
  if (weight.length !== rows * cols)
    throw new OneBitError('weight.length', weight.length, `rows * cols = ${rows} * ${cols}`);
  const { a, b, relativeError } = svid(weight, rows, cols, { method: method === 'svd' ? 'power' : 'nmf' });
  return {
    rows,
    cols,
    w: Float32Array.from(weight),
    g: Float32Array.from(b),
    h: Float32Array.from(a),
    relativeError,
  };
}

/** The packed layer (sign1 codes, g, h) a trained OneBit layer stores for inference. */
export function packLayer(w: Float32Array, g: Float32Array, h: Float32Array): PackedLinear {
  return { weight: packSigns(w, h.length, g.length), g: Float32Array.from(g), h: Float32Array.from(h) };
}
