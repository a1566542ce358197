// Elementwise ops: unary math, binary arithmetic with NumPy broadcasting, where, clamp. Each forward sits next
// to its gradient rule.
import type { BinaryOp, UnaryOp } from '../../backends/backend.ts';
import { record } from '../autograd.ts';
import { EngineError } from '../errors.ts';
import type { Tensor } from '../tensor.ts';
import { broadcastShapes, broadcastStrides, sumTo } from './broadcast.ts';
import { backendOf, output, requireFloat, requireShape, sameShape } from './common.ts';
import { scalar } from './create.ts';

// ---- unary ---------------------------------------------------------------------------------------

function unaryOp(op: UnaryOp) {
  return (x: Tensor): Tensor => {
    requireFloat(op, x);
    const backend = x.backend;
    const out = output(x.shape, backend);
    backend.unary(op, x.handle, out.handle, x.size);
    return record(out, op, [x], (g) => {
      const gx = output(x.shape, backend);
      backend.unaryGrad(op, x.handle, g.handle, gx.handle, x.size);
      return [gx];
    });
  };
}

export const neg = unaryOp('neg');
export const exp = unaryOp('exp');
export const log = unaryOp('log');
export const sqrt = unaryOp('sqrt');
export const rsqrt = unaryOp('rsqrt');
export const abs = unaryOp('abs');
export const sign = unaryOp('sign');
export const round = unaryOp('round');
export const floor = unaryOp('floor');
export const relu = unaryOp('relu');
export const gelu = unaryOp('gelu');
export const silu = unaryOp('silu');
export const sigmoid = unaryOp('sigmoid');
export const tanh = unaryOp('tanh');
export const square = unaryOp('square');
export const reciprocal = unaryOp('reciprocal');

/** mul * x + add, one pass, no scalar tensors. */
export function affine(x: Tensor, mul: number, add = 0): Tensor {
  requireFloat('affine', x);
  const out = output(x.shape, x.backend);
  x.backend.affine(x.handle, out.handle, x.size, mul, add);
  return record(out, 'affine', [x], (g) => {
    const gx = output(x.shape, x.backend);
    x.backend.affine(g.handle, gx.handle, x.size, mul, 0);
    return [gx];
  });
}

export interface SwigluOptions {
  /** Round gate and up to this half type as the kernels load them, forward and backward: bit for bit
   *  swiglu(roundTo(gate, round, { gradient: false }), roundTo(up, round, { gradient: false })) without those
   *  two passes (emulated half compute, where gate and up are products' outputs). Gradients are not rounded. */
  round?: 'bf16' | 'f16';
  /** Round the output to this half type as the kernel stores it: bit for bit roundTo(swiglu(...), roundOutput,
   *  { gradient: false }) without that pass. */
  roundOutput?: 'bf16' | 'f16';
  /** Round the output's gradient to this half type as the backward loads it: bit for bit
   *  roundTo(swiglu(...), roundGradient, { value: false }) without that pass. */
  roundGradient?: 'bf16' | 'f16';
  /** Round the gradients of gate and up to this half type as the backward stores them: bit for bit
   *  roundTo(gate, roundInputGradients, { value: false }) (and up's) before the op, without those passes. */
  roundInputGradients?: 'bf16' | 'f16';
  /** The (rounded) output is read only by products (the MLP's down projection): see the backend's HalfOnly. */
  halfOnly?: boolean;
  /** The (rounded) gradients of gate and up are read only by products (the gate and up projections' backward). */
  halfOnlyGradients?: boolean;
}

/**
 * SwiGLU's gate silu(gate) * up (same shapes, no broadcasting): one kernel forward (read 2, write 1) and one
 * backward that writes both gradients, in place of silu, mul and their three gradient passes.
 */
export function swiglu(gate: Tensor, up: Tensor, options: SwigluOptions = {}): Tensor {
  const { round, roundOutput, roundGradient, roundInputGradients, halfOnly, halfOnlyGradients } = options;
  const backend = backendOf('swiglu', gate, up);
  requireFloat('swiglu', gate, up);
  requireShape('swiglu', up, gate.shape, 'up');
  const out = output(gate.shape, backend);
  backend.swiglu(gate.handle, up.handle, out.handle, gate.size, round, roundOutput, halfOnly);
  return record(out, 'swiglu', [gate, up], (g) => {
    const gGate = output(gate.shape, backend);
    const gUp = output(up.shape, backend);
    backend.swigluGrad(
      gate.handle,
      up.handle,
      g.handle,
      gGate.handle,
      gUp.handle,
      gate.size,
      round,
      roundGradient,
      roundInputGradients,
      halfOnlyGradients,
    );
    return [gGate, gUp];
  });
}

function rawBinary(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const backend = backendOf(op, a, b);
  requireFloat(op, a, b);
  const shape = broadcastShapes(op, a.shape, b.shape);
  const out = output(shape, backend);
  backend.binary(
    op,
    a.handle,
    broadcastStrides(a.shape, shape),
    b.handle,
    broadcastStrides(b.shape, shape),
    out.handle,
    shape,
  );
  return out;
}

const asTensor = (x: Tensor | number, like: Tensor) =>
  typeof x === 'number' ? scalar(x, { backend: like.backend }) : x;

type Rule = (g: Tensor, a: Tensor, b: Tensor, out: Tensor) => [Tensor | null, Tensor | null];

const rules: Record<BinaryOp, Rule | null> = {
  add: (g) => [g, g],
  sub: (g) => [g, neg(g)],
  mul: (g, a, b) => [rawBinary('mul', g, b), rawBinary('mul', g, a)],
  div: (g, a, b) => [rawBinary('div', g, b), neg(rawBinary('div', rawBinary('mul', g, a), square(b)))],
  pow: (g, a, b, out) => [
    rawBinary('mul', g, rawBinary('mul', b, rawBinary('pow', a, affine(b, 1, -1)))),
    rawBinary('mul', g, rawBinary('mul', log(a), out)),
  ],
  max: (g, a, b) => [rawBinary('mul', g, rawBinary('ge', a, b)), rawBinary('mul', g, rawBinary('lt', a, b))],
  min: (g, a, b) => [rawBinary('mul', g, rawBinary('le', a, b)), rawBinary('mul', g, rawBinary('gt', a, b))],
  lt: null,
  le: null,
  gt: null,
  ge: null,
  eq: null,
  ne: null,
};

function binaryOp(op: BinaryOp) {
  return (x: Tensor | number, y: Tensor | number): Tensor => {
    if (typeof x === 'number' && typeof y === 'number')
      throw new EngineError(op, 'needs at least one tensor');
    const a = asTensor(x, (typeof x === 'number' ? y : x) as Tensor);
    const b = asTensor(y, a);
    const out = rawBinary(op, a, b);
    const rule = rules[op];
    if (!rule) return out;
    return record(out, op, [a, b], (g) => {
      const [ga, gb] = rule(g, a, b, out);
      return [ga && reduceTo(ga, a.shape, g), gb && reduceTo(gb, b.shape, g)];
    });
  };
}

/** Sums a broadcast gradient back to an operand's shape (disposing the intermediate, never g itself). */
function reduceTo(grad: Tensor, shape: readonly number[], g: Tensor): Tensor {
  if (sameShape(grad.shape, shape)) return grad;
  const reduced = sumTo(grad, shape);
  if (grad !== g) grad.dispose();
  return reduced;
}

export const add = binaryOp('add');
export const sub = binaryOp('sub');
export const mul = binaryOp('mul');
export const div = binaryOp('div');
export const pow = binaryOp('pow');
export const maximum = binaryOp('max');
export const minimum = binaryOp('min');
export const lt = binaryOp('lt');
export const le = binaryOp('le');
export const gt = binaryOp('gt');
export const ge = binaryOp('ge');
export const eq = binaryOp('eq');
export const ne = binaryOp('ne');

/** cond != 0 ? a : b, broadcasting all three. */
export function where(cond: Tensor, x: Tensor | number, y: Tensor | number): Tensor {
  const a = asTensor(x, cond);
  const b = asTensor(y, cond);
  const backend = backendOf('where', cond, a, b);
  requireFloat('where', cond, a, b);
  const shape = broadcastShapes('where', broadcastShapes('where', cond.shape, a.shape), b.shape);
  const out = output(shape, backend);
  const cs = broadcastStrides(cond.shape, shape);
  backend.where(
    cond.handle,
    cs,
    a.handle,
    broadcastStrides(a.shape, shape),
    b.handle,
    broadcastStrides(b.shape, shape),
    out.handle,
    shape,
  );
  return record(out, 'where', [cond, a, b], (g) => {
    const zero = scalar(0, { backend });
    const ga = output(shape, backend);
    const gb = output(shape, backend);
    const dense = broadcastStrides(shape, shape);
    const none = new Array<number>(shape.length).fill(0);
    backend.where(cond.handle, cs, g.handle, dense, zero.handle, none, ga.handle, shape);
    backend.where(cond.handle, cs, zero.handle, none, g.handle, dense, gb.handle, shape);
    zero.dispose();
    return [null, reduceTo(ga, a.shape, g), reduceTo(gb, b.shape, g)];
  });
}

export function clamp(x: Tensor, lo: number, hi: number): Tensor {
  if (!(lo <= hi)) throw new EngineError('clamp', `lo ${lo} must not exceed hi ${hi}`);
  return minimum(maximum(x, lo), hi);
}
