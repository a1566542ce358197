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

/**
 * Whether a value can fall outside the grid under this spec. A symmetric absmax scale maps each group's extreme
 * onto the grid's end, so nothing is clipped: there the clipped estimator is the identity (and its mask, up to
 * rounding at the extreme itself, would only drop that value's gradient by accident).
 */
export function canClip(spec: FakeQuantSpec): boolean {
  const gridEndsAtAbsmax =
    spec.format.kind === 'int' || spec.format.kind === 'fp' || spec.format.kind === 'nf4';
  return !(spec.scale.kind === 'absmax' && spec.symmetric && gridEndsAtAbsmax);
}

export interface FakeQuantOptions {
  /** Round the output to this half type as it is stored: bit for bit roundTo(fakeQuant(...), roundOutput,
   *  { gradient: false }) without that pass. */
  roundOutput?: 'bf16' | 'f16';
  /** The (rounded) output is read only by products and attention: see the backend's HalfOnly. */
  halfOnly?: boolean;
}

/** Quantize-then-dequantize x viewed as (rows, cols) with cols the last axis. */
export function fakeQuant(
  x: Tensor,
  spec: FakeQuantSpec,
  steKind: SteKind = 'clipped',
  options: FakeQuantOptions = {},
): Tensor {
  requireFloat('fakeQuant', x);
  const backend = x.backend;
  const ste = steKind === 'clipped' && !canClip(spec) ? 'plain' : steKind;
  const cols = x.rank === 0 ? 1 : x.shape[x.rank - 1];
  const rows = x.size / cols;
  const out = output(x.shape, backend);
  const mask = ste === 'clipped' && x.requiresGrad ? output(x.shape, backend) : null;
  backend.fakeQuant(
    spec,
    x.handle,
    out.handle,
    rows,
    cols,
    mask?.handle ?? null,
    options.roundOutput,
    options.halfOnly,
  );
  return record(out, 'fakeQuant', [x], (g) => {
    if (ste === 'plain') return [g]; // the identity: the tape hands x a view of g, no copy
    const gx = output(x.shape, backend);
    const strides = stridesOf(x.shape);
    if (ste === 'clipped') {
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
