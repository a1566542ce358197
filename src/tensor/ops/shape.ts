// Shape ops: reshape (a view), permute/transpose, slice, concat. All data movement goes through
// the backend's one strided-copy kernel.
import { record } from '../autograd.ts';
import { EngineError, fmtShape } from '../errors.ts';
import type { Tensor } from '../tensor.ts';
import { axisOf, output, product, stridesOf } from './common.ts';

/** Same data, new shape; one dimension may be -1 (inferred). Shares storage. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const dims = shape.slice();
  const unknown = dims.indexOf(-1);
  if (unknown >= 0) dims[unknown] = x.size / product(dims.filter((_, i) => i !== unknown));
  if (product(dims) !== x.size || dims.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new EngineError(
      'reshape',
      `cannot reshape ${fmtShape(x.shape)} (${x.size} elements) to ${fmtShape(shape)}`,
    );
  }
  const out = x.view(dims);
  return record(out, 'reshape', [x], (g) => [g.view(x.shape)]);
}

export function permute(x: Tensor, perm: readonly number[]): Tensor {
  if (perm.length !== x.rank || [...perm].sort().some((p, i) => p !== i)) {
    throw new EngineError(
      'permute',
      `[${perm.join(', ')}] is not a permutation of the ${x.rank} axes of ${fmtShape(x.shape)}`,
    );
  }
  const shape = perm.map((p) => x.shape[p]);
  const xStrides = stridesOf(x.shape);
  const out = output(shape, x.backend, x.dtype);
  x.backend.strided(
    x.handle,
    0,
    perm.map((p) => xStrides[p]),
    out.handle,
    0,
    stridesOf(shape),
    shape,
  );
  const inverse = perm.map((_, i) => perm.indexOf(i));
  return record(out, 'permute', [x], (g) => [permute(g, inverse)]);
}

export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  const perm = x.shape.map((_, i) => i);
  const i = axisOf('transpose', a, x.rank);
  const j = axisOf('transpose', b, x.rank);
  [perm[i], perm[j]] = [perm[j], perm[i]];
  return permute(x, perm);
}

/** x[start:end] along one axis. */
export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  const ax = axisOf('slice', axis, x.rank);
  if (
    !(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= x.shape[ax])
  ) {
    throw new EngineError('slice', `range [${start}, ${end}) is outside axis ${ax} of ${fmtShape(x.shape)}`);
  }
  const shape = x.shape.slice();
  shape[ax] = end - start;
  const strides = stridesOf(x.shape);
  const out = output(shape, x.backend, x.dtype);
  x.backend.strided(x.handle, start * strides[ax], strides, out.handle, 0, stridesOf(shape), shape);
  return record(out, 'slice', [x], (g) => {
    const gx = output(x.shape, x.backend);
    x.backend.strided(g.handle, 0, stridesOf(shape), gx.handle, start * strides[ax], strides, shape);
    return [gx];
  });
}

export function concat(xs: readonly Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new EngineError('concat', 'needs at least one tensor');
  const first = xs[0];
  const ax = axisOf('concat', axis, first.rank);
  for (const t of xs) {
    if (t.rank !== first.rank || t.shape.some((d, i) => i !== ax && d !== first.shape[i])) {
      throw new EngineError(
        'concat',
        `shapes ${xs.map((s) => fmtShape(s.shape)).join(', ')} differ off axis ${ax}`,
      );
    }
  }
  const shape = first.shape.slice();
  shape[ax] = xs.reduce((s, t) => s + t.shape[ax], 0);
  const out = output(shape, first.backend, first.dtype);
  const outStrides = stridesOf(shape);
  let offset = 0;
  const starts: number[] = [];
  for (const t of xs) {
    starts.push(offset);
    t.backend.strided(
      t.handle,
      0,
      stridesOf(t.shape),
      out.handle,
      offset * outStrides[ax],
      outStrides,
      t.shape,
    );
    offset += t.shape[ax];
  }
  return record(out, 'concat', xs, (g) => xs.map((t, i) => slice(g, ax, starts[i], starts[i] + t.shape[ax])));
}
