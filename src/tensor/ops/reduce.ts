// Reductions over axes: sum, mean, max, and sumTo (the gradient of broadcasting).
import type { ReduceOp } from '../../backends/backend.ts';
import { record } from '../autograd.ts';
import { EngineError, fmtShape } from '../errors.ts';
import type { Tensor } from '../tensor.ts';
import { axisOf, output, product, requireFloat } from './common.ts';
import { affine, div, eq, mul } from './elementwise.ts';
import { broadcastTo } from './shape.ts';

/** Reduces one axis, keeping it as size 1. */
function reduceAxis(op: ReduceOp, x: Tensor, axis: number): Tensor {
  const shape = x.shape.slice();
  const outer = product(shape.slice(0, axis));
  const mid = shape[axis];
  const inner = product(shape.slice(axis + 1));
  shape[axis] = 1;
  const out = output(shape, x.backend);
  x.backend.reduce(op, x.handle, out.handle, outer, mid, inner);
  return out;
}

function normalizeAxes(op: string, x: Tensor, axes?: number | readonly number[]): number[] {
  if (axes === undefined) return x.shape.map((_, i) => i);
  const list = typeof axes === 'number' ? [axes] : [...axes];
  const normalized = list.map((a) => axisOf(op, a, x.rank));
  if (new Set(normalized).size !== normalized.length)
    throw new EngineError(op, `repeated axes ${list.join(', ')}`);
  return normalized.sort((a, b) => b - a);
}

function keptShape(shape: readonly number[], axes: number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

/** Reduces `axes` (all by default) without gradient; the result keeps reduced axes as size 1. */
function reduceKeep(op: ReduceOp, x: Tensor, axes: number[]): Tensor {
  let current = x;
  for (const axis of axes) {
    const next = reduceAxis(op, current, axis);
    if (current !== x) current.dispose();
    current = next;
  }
  return current === x ? x.view(x.shape) : current;
}

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

/** Sums a tensor down to `shape` over the dimensions where it was broadcast (the adjoint of broadcastTo). */
export function sumTo(x: Tensor, shape: readonly number[]): Tensor {
  const lead = x.rank - shape.length;
  if (lead < 0) throw new EngineError('sumTo', `cannot reduce ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
  const axes: number[] = [];
  x.shape.forEach((d, i) => {
    const target = i < lead ? 1 : shape[i - lead];
    if (target === 1 && d !== 1) axes.push(i);
    else if (target !== d)
      throw new EngineError('sumTo', `cannot reduce ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
  });
  const kept = reduceKeep(
    'sum',
    x,
    axes.sort((a, b) => b - a),
  );
  const out = kept.view(shape);
  kept.dispose();
  return out;
}
