// Fake quantization as an op: the forward rounds x onto a number format's grid (numerics defines the formats),
// the backward is a straight-through estimator, so quantization-aware training is one call per tensor.
import type { FakeQuantSpec } from '../../numerics/spec.ts';
import { record } from '../autograd.ts';
import type { Tensor } from '../tensor.ts';
import { output, requireFloat, stridesOf } from './common.ts';

/**
 * How the gradient passes the rounding:
 * - 'plain': identity (Bengio et al. 2013).
 * - 'clipped': identity inside the representable range, zero where the value was clipped.
 * - 'tanh': OneBit's 1.001 - tanh(x)^2, a smooth window around zero for sign-like formats.
 */
export type SteKind = 'plain' | 'clipped' | 'tanh';

/** Quantize-then-dequantize x viewed as (rows, cols) with cols the last axis. */
export function fakeQuant(x: Tensor, spec: FakeQuantSpec, ste: SteKind = 'clipped'): Tensor {
  requireFloat('fakeQuant', x);
  const backend = x.backend;
  const cols = x.rank === 0 ? 1 : x.shape[x.rank - 1];
  const rows = x.size / cols;
  const out = output(x.shape, backend);
  const mask = ste === 'clipped' && x.requiresGrad ? output(x.shape, backend) : null;
  backend.fakeQuant(spec, x.handle, out.handle, rows, cols, mask?.handle ?? null);
  return record(out, 'fakeQuant', [x], (g) => {
    const gx = output(x.shape, backend);
    const strides = stridesOf(x.shape);
    if (ste === 'plain') {
      backend.affine(g.handle, gx.handle, x.size, 1, 0);
    } else if (ste === 'clipped') {
      backend.binary('mul', g.handle, strides, mask!.handle, strides, gx.handle, x.shape);
    } else {
      // 1.001 - tanh(x)^2 = tanh'(x) + 0.001
      const window = output(x.shape, backend);
      backend.fill(window.handle, x.size, 1);
      backend.unaryGrad('tanh', x.handle, window.handle, window.handle, x.size);
      backend.affine(window.handle, window.handle, x.size, 1, 0.001);
      backend.binary('mul', g.handle, strides, window.handle, strides, gx.handle, x.shape);
      window.dispose();
    }
    return [gx];
  });
}
