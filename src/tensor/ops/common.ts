// Small helpers shared by the op files: where outputs live, shape checks, dense strides.
import type { Backend, DType } from '../../backends/backend.ts';
import { EngineError, fmtShape } from '../errors.ts';
import { emptyTensor, type GatheredGrads, type Tensor } from '../tensor.ts';

/** The backend all inputs share; mixing backends is an error naming them. */
export function backendOf(op: string, ...inputs: Tensor[]): Backend {
  const backend = inputs[0].backend;
  for (const t of inputs) {
    if (t.backend !== backend) {
      throw new EngineError(
        op,
        `inputs live on different backends (${inputs.map((x) => x.backend.name).join(', ')})`,
      );
    }
  }
  return backend;
}

export function requireDtype(op: string, t: Tensor, dtype: DType, what = 'input'): void {
  if (t.dtype !== dtype) {
    throw new EngineError(
      op,
      `${what} must be ${dtype}, got ${t.dtype} ${fmtShape(t.shape)} on ${t.backend.name}`,
    );
  }
}

export function requireFloat(op: string, ...inputs: Tensor[]): void {
  for (const t of inputs) requireDtype(op, t, 'f32');
}

export function output(shape: readonly number[], backend: Backend, dtype: DType = 'f32'): Tensor {
  return emptyTensor(shape, dtype, backend);
}

/** Where a backward rule writes the gradient of t, input i of its op: the gradient gathered so far from t's other
 *  uses (x feeding q, k and v), which the rule then adds into (`accumulate`), or a new tensor; null where t needs
 *  none. */
export function gradientInto(
  t: Tensor,
  i: number,
  gathered: GatheredGrads,
): { grad: Tensor | null; accumulate: boolean } {
  if (!t.requiresGrad) return { grad: null, accumulate: false };
  const taken = gathered.take(i);
  return { grad: taken ?? output(t.shape, t.backend), accumulate: taken !== null };
}

/** Row-major strides of a dense tensor. */
export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d];
  }
  return strides;
}

export const product = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);

/** Normalizes a possibly negative axis, checking it is in range. */
export function axisOf(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw new EngineError(op, `axis ${axis} is out of range for rank ${rank}`);
  }
  return a;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function requireShape(op: string, t: Tensor, shape: readonly number[], what = 'input'): void {
  if (!sameShape(t.shape, shape)) {
    throw new EngineError(op, `${what} has shape ${fmtShape(t.shape)}, expected ${fmtShape(shape)}`);
  }
}

/** 1 / max(number of targets >= 0, 1) as a one-element f32 tensor, computed on the device. */
export function inverseCount(backend: Backend, targets: Tensor, rows: number): Tensor {
  const counted = output([rows], backend);
  backend.cast(targets.handle, 'i32', counted.handle, 'f32', rows);
  const zero = output([1], backend);
  backend.binary('ge', counted.handle, [1], zero.handle, [0], counted.handle, [rows]); // 1 where counted
  const scale = output([1], backend);
  backend.reduce('sum', counted.handle, scale.handle, 1, rows, 1);
  const one = output([1], backend);
  backend.fill(one.handle, 1, 1);
  backend.binary('max', scale.handle, [1], one.handle, [1], scale.handle, [1]);
  backend.unary('reciprocal', scale.handle, scale.handle, 1);
  return scale;
}
