// Broadcasting: the shape rule, the strides that read a tensor as broadcast, and the pair of ops that are each
// other's gradient: broadcastTo, and sumTo that sums a gradient back down over the broadcast dimensions.
import { record } from '../autograd.ts';
import { EngineError, fmtShape } from '../errors.ts';
import type { Tensor } from '../tensor.ts';
import { output, stridesOf } from './common.ts';
import { reduceKeep } from './reduce-axes.ts';

export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new EngineError(op, `shapes ${fmtShape(a)} and ${fmtShape(b)} do not broadcast`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides that read `shape` as if broadcast to `target` (0 along broadcast dimensions). */
export function broadcastStrides(shape: readonly number[], target: readonly number[]): number[] {
  const strides = new Array<number>(target.length).fill(0);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = target.length - shape.length + i;
    strides[d] = shape[i] === 1 ? 0 : s;
    s *= shape[i];
  }
  return strides;
}

export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  const target = broadcastShapes('broadcastTo', x.shape, shape);
  if (target.length !== shape.length || target.some((d, i) => d !== shape[i])) {
    throw new EngineError('broadcastTo', `${fmtShape(x.shape)} does not broadcast to ${fmtShape(shape)}`);
  }
  const out = output(shape, x.backend, x.dtype);
  x.backend.strided(x.handle, 0, broadcastStrides(x.shape, shape), out.handle, 0, stridesOf(shape), shape);
  return record(out, 'broadcastTo', [x], (g) => [sumTo(g, x.shape)]);
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
