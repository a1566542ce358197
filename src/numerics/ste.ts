// Straight-through gradients of fake quantization: the forward pass rounds, the backward pass pretends it
// did not (Bengio et al. 2013). Pure functions over flat arrays; the engine's fakeQuant op calls one of them
// as its vector-Jacobian product. gx may alias gy.
//
//   plain:    dx = dy                                   (BitNet, the Scaling-Laws-for-Precision QAT)
//   clipped:  dx = dy * mask, mask = 1 inside the clipping range, 0 where x was clipped (fakeQuant's steMask)
//   tanh:     dx = dy * (1.001 - tanh(x)^2)              (OneBit's sign(): the derivative of tanh, kept
//                                                       above 0.001 so saturated latent weights still move)

type FloatArray = Float32Array | Float64Array;

export type SteKind = 'plain' | 'clipped' | 'tanh';

export function stePlain(gy: FloatArray, gx: FloatArray, n: number): void {
  for (let i = 0; i < n; i++) gx[i] = gy[i];
}

export function steClipped(gy: FloatArray, mask: FloatArray, gx: FloatArray, n: number): void {
  for (let i = 0; i < n; i++) gx[i] = gy[i] * mask[i];
}

/** OneBit: x is the latent (full-precision) weight whose sign the forward pass used. */
export function steTanh(gy: FloatArray, x: FloatArray, gx: FloatArray, n: number): void {
  for (let i = 0; i < n; i++) {
    const t = Math.tanh(x[i]);
    gx[i] = gy[i] * (1.001 - t * t);
  }
}
