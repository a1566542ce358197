// Casting between dtypes. bf16 and f16 are storage formats: compute ops take f32, so a half tensor is cast up
// to use it. The gradient of a cast is the cast of the gradient back.
import type { DType } from '../../backends/backend.ts';
import { record } from '../autograd.ts';
import type { Tensor } from '../tensor.ts';
import { output, requireFloat } from './common.ts';

export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  const out = output(x.shape, x.backend, dtype);
  x.backend.cast(x.handle, x.dtype, out.handle, dtype, x.size);
  if (dtype === 'i32' || x.dtype === 'i32') return out;
  return record(out, 'cast', [x], (g) => [cast(g, x.dtype)]);
}

export interface RoundToOptions {
  /** Round the value (default). False hands x on as it is: for a tensor whose every reader rounds it to `to`
   *  itself (a product that casts its operands to that type), where rounding first changes no number. */
  value?: boolean;
  /** Round the gradient (default). False hands the gradient back as it is: for a tensor whose gradient's every
   *  reader rounds it to `to` itself (the backward of such a product). */
  gradient?: boolean;
}

/**
 * x rounded to a half type and kept in f32: cast(cast(x, to), 'f32') bit for bit (nearest even, f16 overflow
 * to ±inf), in one pass with no half-sized buffer. Emulated half compute rounds every layer boundary this way.
 * The gradient is rounded the same way, as the two casts' gradients (cast there and back) round it.
 */
export function roundTo(x: Tensor, to: 'bf16' | 'f16', options: RoundToOptions = {}): Tensor {
  requireFloat('roundTo', x);
  const { value = true, gradient = true } = options;
  if (!value && !gradient) return x;
  if (!value) return record(x.view(x.shape), 'roundTo', [x], (g) => [roundTo(g, to)]);
  const out = output(x.shape, x.backend);
  x.backend.roundTo(x.handle, out.handle, to, x.size);
  return record(out, 'roundTo', [x], (g) => [gradient ? roundTo(g, to) : g]);
}
