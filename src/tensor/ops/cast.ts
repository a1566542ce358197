// Casting between dtypes. bf16 and f16 are storage formats: compute ops take f32, so a half tensor is cast up
// to use it. The gradient of a cast is the cast of the gradient back.
import type { DType } from '../../backends/backend.ts';
import { record } from '../autograd.ts';
import type { Tensor } from '../tensor.ts';
import { output } from './common.ts';

export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  const out = output(x.shape, x.backend, dtype);
  x.backend.cast(x.handle, x.dtype, out.handle, dtype, x.size);
  if (dtype === 'i32' || x.dtype === 'i32') return out;
  return record(out, 'cast', [x], (g) => [cast(g, x.dtype)]);
}
