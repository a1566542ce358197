// Reductions over axes with their gradients: sum, mean, max.
import { record } from '../autograd.ts';
import type { Tensor } from '../tensor.ts';
import { broadcastTo } from './broadcast.ts';
import { output, product, requireFloat } from './common.ts';
import { affine, div, eq, mul } from './elementwise.ts';
import { keptShape, normalizeAxes, reduceKeep } from './reduce-axes.ts';

function finish(kept: Tensor, x: Tensor, axes: number[], keepDims: boolean): Tensor {
  if (keepDims) return kept;
  const shape = x.shape.filter((_, i) => !axes.includes(i));
  const out = kept.view(shape);
  kept.dispose();
  return out;
}

export function sum(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  requireFloat('sum', x);
  const list = normalizeAxes('sum', x, axes);
  const out = finish(reduceKeep('sum', x, list), x, list, keepDims);
  return record(out, 'sum', [x], (g) => [broadcastTo(g.view(keptShape(x.shape, list)), x.shape)]);
}

export function mean(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  const list = normalizeAxes('mean', x, axes);
  const count = product(list.map((a) => x.shape[a]));
  const s = sum(x, axes, keepDims);
  return affine(s, 1 / count);
}

/** Maximum over axes. Ties share the gradient equally. */
export function max(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  requireFloat('max', x);
  const list = normalizeAxes('max', x, axes);
  const kept = reduceKeep('max', x, list);
  const out = finish(kept.view(kept.shape), x, list, keepDims);
  return record(out, 'max', [x], (g) => {
    const mask = eq(x, kept);
    const count = reduceKeep('sum', mask, list);
    const share = div(g.view(keptShape(x.shape, list)), count);
    return [mul(mask, share)];
  });
}

/**
 * Statistics of x viewed as (rows, last axis), in one backend op (Backend.columnStats): the vector
 * [max |x|, mean, second and fourth central moments, then per column the fraction of rows with |x| >= threshold]
 * of 4 + cols elements. No gradient.
 */
export function columnStats(x: Tensor, threshold: number): Tensor {
  requireFloat('columnStats', x);
  const cols = x.rank === 0 ? 1 : x.shape[x.rank - 1];
  const rows = cols === 0 ? 0 : x.size / cols;
  const out = output([4 + cols], x.backend);
  x.backend.columnStats(x.handle, out.handle, rows, cols, threshold);
  return out;
}
