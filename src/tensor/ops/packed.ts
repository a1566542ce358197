// Products with packed 1-bit / ternary weights (Backend.packedGemm): a OneBit or BitNet b1.58 linear layer at
// inference, its signs never unpacked. No gradient: the packed bits are a frozen export, not a parameter.
import { isGradEnabled } from '../autograd.ts';
import { EngineError, fmtShape } from '../errors.ts';
import type { Tensor } from '../tensor.ts';
import { backendOf, output, requireDtype, requireFloat, requireShape } from './common.ts';

/** A packed layer on one backend: W = diag(h) S diag(g), S (rows, cols) in ±1 (sign1) or -1/0/+1 (ternary). */
export interface PackedWeight {
  /** S's packed bytes (src/onebit/packed.ts's layout), four to an i32 element, zero past the end. */
  codes: Tensor;
  g: Tensor;
  h: Tensor;
  rows: number;
  cols: number;
  ternary: boolean;
}

/** Elements of the i32 codes tensor a packed (rows, cols) matrix takes. */
export function packedCodesSize(rows: number, cols: number, ternary: boolean): number {
  return Math.ceil((rows * Math.ceil(cols / (ternary ? 4 : 8))) / 4);
}

/** x (..., cols) Wᵀ = h ⊙ ((x ⊙ g) Sᵀ): (..., rows). */
export function packedMatmul(x: Tensor, w: PackedWeight): Tensor {
  const backend = backendOf('packedMatmul', x, w.codes, w.g, w.h);
  requireFloat('packedMatmul', x, w.g, w.h);
  requireDtype('packedMatmul', w.codes, 'i32', 'codes');
  const { rows, cols, ternary } = w;
  requireShape('packedMatmul', w.codes, [packedCodesSize(rows, cols, ternary)], 'codes');
  requireShape('packedMatmul', w.g, [cols], 'g');
  requireShape('packedMatmul', w.h, [rows], 'h');
  if (x.rank < 1 || x.shape[x.rank - 1] !== cols)
    throw new EngineError('packedMatmul', `x has shape ${fmtShape(x.shape)}, expected (..., ${cols})`);
  if (isGradEnabled() && x.requiresGrad)
    throw new EngineError('packedMatmul', 'has no gradient (inference only): call it under noGrad');
  const batch = x.size / cols;
  const y = output([...x.shape.slice(0, -1), rows], backend);
  backend.packedGemm(w.codes.handle, w.g.handle, w.h.handle, x.handle, y.handle, rows, cols, batch, ternary);
  return y;
}
