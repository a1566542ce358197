// The 1-bit hidden weight: sign(latent) x scale in the forward pass, a straight-through gradient to the
// latent weight in the backward pass. The same three estimators as the engine's fakeQuant (src/tensor/ops/quant.ts):
//   plain:   d latent = d w                         (identity)
//   clipped: d latent = d w * [|latent| <= 1]       (BinaryConnect's hard-tanh window)
//   tanh:    d latent = d w * (1.001 - tanh^2)      (OneBit)
// Written as one recorded op so the forward is exactly ±scale (the engine's binary fakeQuant always scales
// by mean |x|; the theory's weights are ±1).

import * as T from '../../tensor/index.ts';
import type { OneBitScale, SteKind } from './config.ts';

export function signSte(latent: T.Tensor, scale: OneBitScale, ste: SteKind): T.Tensor {
  const out = T.noGrad(() =>
    T.tidy(() => {
      // sign(0) = +1, as numerics' binary format: every weight is ±scale, never 0.
      const signs = T.affine(T.ge(latent, 0), 2, -1);
      return scale === 'unit' ? signs : T.mul(signs, T.mean(T.abs(latent)));
    }),
  );
  return T.record(out, 'signSte', [latent], (g) => [steGradient(g, latent, ste)]);
}

function steGradient(g: T.Tensor, latent: T.Tensor, ste: SteKind): T.Tensor {
  if (ste === 'plain') return g;
  return T.tidy(() => {
    const window = ste === 'clipped' ? T.le(T.abs(latent), 1) : T.affine(T.square(T.tanh(latent)), -1, 1.001);
    return T.mul(g, window);
  });
}
