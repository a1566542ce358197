// Small helpers shared by the op files: where outputs live, shape checks, dense strides.
import type { Backend, DType } from '../../backends/backend.ts';
import { EngineError, fmtShape } from '../errors.ts';
import { emptyTensor, type Tensor } from '../tensor.ts';

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
