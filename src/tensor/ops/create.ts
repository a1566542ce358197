// Making tensors: from host data, constants, and the counter-based random streams.
import type { Backend, DType } from '../../backends/backend.ts';
import { EngineError, fmtShape } from '../errors.ts';
import { defaultBackend } from '../registry.ts';
import type { Tensor } from '../tensor.ts';
import { output, product } from './common.ts';

export interface CreateOptions {
  dtype?: DType;
  backend?: Backend;
}

/** A tensor holding `data` (row-major) in `shape` (default: 1-D). */
export function tensor(
  data: ArrayLike<number>,
  shape?: readonly number[],
  options: CreateOptions = {},
): Tensor {
  const dims = shape ?? [data.length];
  if (product(dims) !== data.length) {
    throw new EngineError('tensor', `${data.length} values do not fill shape ${fmtShape(dims)}`);
  }
  const dtype = options.dtype ?? 'f32';
  const t = output(dims, options.backend ?? defaultBackend(), dtype);
  t.backend.write(t.handle, dtype, data);
  return t;
}

export function scalar(value: number, options: CreateOptions = {}): Tensor {
  return tensor([value], [], options);
}

export function full(shape: readonly number[], value: number, options: CreateOptions = {}): Tensor {
  const t = output(shape, options.backend ?? defaultBackend(), options.dtype ?? 'f32');
  if (value !== 0) t.backend.fill(t.handle, t.size, value);
  return t;
}

export const zeros = (shape: readonly number[], options: CreateOptions = {}) => full(shape, 0, options);
export const ones = (shape: readonly number[], options: CreateOptions = {}) => full(shape, 1, options);

/** The global random stream: a seed and how far into it we have read. Reset with manualSeed. */
const stream = { seed: 0, offset: 0 };

export function manualSeed(seed: number): void {
  stream.seed = seed;
  stream.offset = 0;
}

/** Reserves n numbers of the global stream; returns (seed, offset) to draw them from. */
export function takeRandom(n: number): { seed: number; offset: number } {
  const taken = { seed: stream.seed, offset: stream.offset };
  // Keep every draw block-aligned so one call never shares a Philox block with the next.
  stream.offset += Math.ceil(n / 4) * 4;
  return taken;
}

export interface RandomOptions extends CreateOptions {
  /** Draw from this seed's stream (from offset 0) instead of the global one. */
  seed?: number;
}

function random(shape: readonly number[], dist: 'uniform' | 'normal', options: RandomOptions): Tensor {
  const t = output(shape, options.backend ?? defaultBackend());
  const { seed, offset } =
    options.seed === undefined ? takeRandom(t.size) : { seed: options.seed, offset: 0 };
  t.backend.random(t.handle, t.size, dist, seed, offset);
  return t;
}

export const randn = (shape: readonly number[], options: RandomOptions = {}) =>
  random(shape, 'normal', options);
export const rand = (shape: readonly number[], options: RandomOptions = {}) =>
  random(shape, 'uniform', options);
