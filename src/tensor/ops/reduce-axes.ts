// Reductions over axes as the backend computes them, without gradients: what sum, mean and max record, and
// what sumTo (the gradient of broadcasting) uses.
import type { ReduceOp } from '../../backends/backend.ts';
import { EngineError } from '../errors.ts';
import type { Tensor } from '../tensor.ts';
import { axisOf, output, product } from './common.ts';

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

export function normalizeAxes(op: string, x: Tensor, axes?: number | readonly number[]): number[] {
  if (axes === undefined) return x.shape.map((_, i) => i);
  const list = typeof axes === 'number' ? [axes] : [...axes];
  const normalized = list.map((a) => axisOf(op, a, x.rank));
  if (new Set(normalized).size !== normalized.length)
    throw new EngineError(op, `repeated axes ${list.join(', ')}`);
  return normalized.sort((a, b) => b - a);
}

export function keptShape(shape: readonly number[], axes: number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

/** Reduces `axes` (all by default) without gradient; the result keeps reduced axes as size 1. */
export function reduceKeep(op: ReduceOp, x: Tensor, axes: number[]): Tensor {
  let current = x;
  for (const axis of axes) {
    const next = reduceAxis(op, current, axis);
    if (current !== x) current.dispose();
    current = next;
  }
  return current === x ? x.view(x.shape) : current;
}
