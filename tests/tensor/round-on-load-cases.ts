// The fused ops that round an input to a half type as they load it, each beside the composition it replaces
// (T.roundTo with { gradient: false }, then the plain op), and those that round an output, or an input's
// gradient, as they store it (beside roundTo after the op, or roundTo with { value: false } before it): a case
// runs one of the two on a backend and returns the values and every gradient. Shared by tests/tensor/round-on-load
// and tests/cuda/round-on-load.
import { quantSpec } from '../../src/numerics/spec.ts';
import * as T from '../../src/tensor/index.ts';
import { uniform } from './fixtures.ts';

export type Half = 'bf16' | 'f16';
export type Backend = ReturnType<typeof T.getBackend>;
export type Run = Record<string, ArrayLike<number>>;
/** Runs the fused op (fused) or roundTo then the op; `to` absent: the plain op either way. */
export type Case = (backend: Backend, to: Half | undefined, fused: boolean) => Run;

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** make() on first use, then its value: a case's inputs are built only when it runs. */
function lazy<V>(make: () => V): () => V {
  let value: V | undefined;
  return () => {
    value ??= make();
    return value;
  };
}

/** Rounding ties of both half types among ordinary values over a few binades. */
function activations(n: number, seed: number, scale: number): number[] {
  const ties = [
    1 + 2 ** -8,
    1 + 3 * 2 ** -8,
    -(1 + 2 ** -8),
    1 + 2 ** -11,
    1 + 3 * 2 ** -11,
    0.75 + 2 ** -12,
  ];
  return uniform(n, seed).map((u, i) =>
    i % 17 === 0 ? ties[(i / 17) % ties.length] : scale * u * 2 ** ((i % 7) - 3),
  );
}

const noGrad = (x: T.Tensor, to: Half | undefined) => (to ? T.roundTo(x, to, { gradient: false }) : x);

/** A SwiGLU case on gate, up and an upstream gradient made from `seeds` (the gradient with half-type ties where
 *  `tiedGradient`): `op` runs the fused op or its composition on them. */
function swigluOf(
  shape: readonly number[],
  seeds: readonly [number, number, number],
  tiedGradient: boolean,
  op: (gate: T.Tensor, up: T.Tensor, to: Half | undefined, fused: boolean) => T.Tensor,
): Case {
  const n = size(shape);
  const [a, b, c] = seeds;
  const inputs = lazy(() => [
    activations(n, a, 6),
    activations(n, b, 2),
    tiedGradient ? activations(n, c, 1) : uniform(n, c),
  ]);
  return (backend, to, fused) =>
    T.tidy(() => {
      const [gate, up, gy] = inputs();
      const g = T.requireGrad(T.tensor(gate, shape, { backend }));
      const u = T.requireGrad(T.tensor(up, shape, { backend }));
      const y = op(g, u, to, fused);
      T.backward(y, T.tensor(gy, shape, { backend }));
      return { y: y.toArray(), gGate: g.grad!.toArray(), gUp: u.grad!.toArray() };
    });
}

/** T.swiglu(gate, up, { round }) against swiglu of the rounded gate and up. */
export function swigluCase(shape: readonly number[]): Case {
  return swigluOf(shape, [1, 2, 3], false, (g, u, to, fused) =>
    fused ? T.swiglu(g, u, { round: to }) : T.swiglu(noGrad(g, to), noGrad(u, to)),
  );
}

/** T.swiglu(gate, up, { roundOutput, roundGradient }) against roundTo after swiglu: with `value`, the output and
 *  its gradient rounded (a layer boundary), else only the gradient (a product's input). */
export function swigluOutputCase(shape: readonly number[], value: boolean): Case {
  return swigluOf(shape, [11, 12, 13], true, (g, u, to, fused) =>
    !to
      ? T.swiglu(g, u)
      : fused
        ? T.swiglu(g, u, { roundOutput: value ? to : undefined, roundGradient: to })
        : T.roundTo(T.swiglu(g, u), to, { value }),
  );
}

/** A norm case's inputs on a backend (seeds from `seed` on): x, r, w requiring gradients, and the upstream
 *  gradients of the sum and the output, the latter with half-type ties where `tiedGradient` (a case that rounds
 *  it). Call inside the case's tidy. */
function normInputs(shape: readonly number[], seed: number, tiedGradient: boolean) {
  const n = size(shape);
  const cols = shape[shape.length - 1];
  const data = lazy(() => [
    activations(n, seed, 4),
    activations(n, seed + 1, 1),
    uniform(cols, seed + 2).map((u) => 1 + 0.5 * u),
    uniform(n, seed + 3),
    tiedGradient ? activations(n, seed + 4, 1) : uniform(n, seed + 4),
  ]);
  return (backend: Backend) => {
    const [x, r, w, gSum, gOut] = data();
    const on = { backend };
    return {
      x: T.requireGrad(T.tensor(x, shape, on)),
      r: T.requireGrad(T.tensor(r, shape, on)),
      w: T.requireGrad(T.tensor(w, [cols], on)),
      gSum: T.tensor(gSum, shape, on),
      gOut: T.tensor(gOut, shape, on),
    };
  };
}

/** T.addRmsNorm(x, r, w, eps, { roundDelta }) against addRmsNorm of the rounded r; gradients on both outputs. */
export function addRmsNormCase(shape: readonly number[]): Case {
  const inputs = normInputs(shape, 4, false);
  return (backend, to, fused) =>
    T.tidy(() => {
      const { x, r, w, gSum, gOut } = inputs(backend);
      const { sum, out } = fused
        ? T.addRmsNorm(x, r, w, 1e-5, { roundDelta: to })
        : T.addRmsNorm(x, noGrad(r, to), w, 1e-5);
      // The sum is the residual stream, the norm the next block's input: upstream gradients on both.
      const loss = T.add(T.sum(T.mul(sum, gSum)), T.sum(T.mul(out, gOut)));
      T.backward(loss);
      return {
        sum: sum.toArray(),
        out: out.toArray(),
        gx: x.grad!.toArray(),
        gr: r.grad!.toArray(),
        gw: w.grad!.toArray(),
      };
    });
}

/** T.addRmsNorm and T.rmsNorm with { roundGradient } against roundTo(out, { value: false }) after them: the norm's
 *  output gradient rounded on load; gradients on the sum and the output. */
export function normGradientCase(shape: readonly number[]): Case {
  const inputs = normInputs(shape, 14, true);
  return (backend, to, fused) =>
    T.tidy(() => {
      const { x, r, w, gSum, gOut } = inputs(backend);
      const after = (t: T.Tensor) => (to && !fused ? T.roundTo(t, to, { value: false }) : t);
      const options = fused ? { roundGradient: to } : {};
      const { sum, out } = T.addRmsNorm(x, r, w, 1e-5, options);
      const plain = T.rmsNorm(x, w, 1e-5, options);
      const loss = T.add(
        T.add(T.sum(T.mul(sum, gSum)), T.sum(T.mul(after(out), gOut))),
        T.sum(T.mul(after(plain), gOut)),
      );
      T.backward(loss);
      return { gx: x.grad!.toArray(), gr: r.grad!.toArray(), gw: w.grad!.toArray() };
    });
}

/** T.rope(x, base, posOffset, { roundInput }) on (B, T, nh, hs) against rope of the rounded x. */
export function ropeCase(shape: readonly number[]): Case {
  const n = size(shape);
  const inputs = lazy(() => [activations(n, 9, 3), uniform(n, 10)]);
  return (backend, to, fused) =>
    T.tidy(() => {
      const [xData, gy] = inputs();
      const x = T.requireGrad(T.tensor(xData, shape, { backend }));
      const y = fused ? T.rope(x, 10000, 3, { roundInput: to }) : T.rope(noGrad(x, to), 10000, 3);
      T.backward(y, T.tensor(gy, shape, { backend }));
      return { y: y.toArray(), gx: x.grad!.toArray() };
    });
}

// ---- rounding as they store: outputs, and the gradients of inputs ----------------------------------------------

/** The gradient of x rounded (its value kept): what an op that rounds x's gradient as it stores it replaces. */
const gradientRounded = (x: T.Tensor, to: Half | undefined) => (to ? T.roundTo(x, to, { value: false }) : x);
/** The value of y rounded (its gradient kept). */
const valueRounded = (y: T.Tensor, to: Half | undefined) => (to ? T.roundTo(y, to, { gradient: false }) : y);

/** T.swiglu(gate, up, { roundInputGradients, halfOnlyGradients }) against swiglu of gate and up whose gradients
 *  are rounded. `halfOnly` passes the backends' HalfOnly hint too (the values must not change). */
export function swigluGradientsCase(shape: readonly number[], halfOnly = false): Case {
  return swigluOf(shape, [21, 22, 23], true, (g, u, to, fused) =>
    fused
      ? T.swiglu(g, u, { roundInputGradients: to, halfOnlyGradients: halfOnly })
      : T.swiglu(gradientRounded(g, to), gradientRounded(u, to)),
  );
}

/** T.swiglu(gate, up, { roundOutput, halfOnly }) against roundTo after swiglu (values only). */
export function swigluHalfOnlyCase(shape: readonly number[]): Case {
  return swigluOf(shape, [24, 25, 26], false, (g, u, to, fused) =>
    fused ? T.swiglu(g, u, { roundOutput: to, halfOnly: true }) : valueRounded(T.swiglu(g, u), to),
  );
}

/** T.addRmsNorm(x, r, w, eps, { roundOutput, halfOnly }) against roundTo of out after it (sum unrounded). */
export function addRmsNormOutputCase(shape: readonly number[], halfOnly = false): Case {
  const inputs = normInputs(shape, 24, false);
  return (backend, to, fused) =>
    T.tidy(() => {
      const { x, r, w, gSum, gOut } = inputs(backend);
      const both = fused
        ? T.addRmsNorm(x, r, w, 1e-5, { roundOutput: to, halfOnly })
        : T.addRmsNorm(x, r, w, 1e-5);
      const out = fused ? both.out : valueRounded(both.out, to);
      const loss = T.add(T.sum(T.mul(both.sum, gSum)), T.sum(T.mul(out, gOut)));
      T.backward(loss);
      return {
        sum: both.sum.toArray(),
        out: out.toArray(),
        gx: x.grad!.toArray(),
        gr: r.grad!.toArray(),
        gw: w.grad!.toArray(),
      };
    });
}

/** T.rope(x, base, posOffset, { roundOutput, roundInputGradient, halfOnly, halfOnlyGradient }) against roundTo
 *  of the output after rope of x whose gradient is rounded. */
export function ropeStoreCase(shape: readonly number[], halfOnly = false): Case {
  const n = size(shape);
  const inputs = lazy(() => [activations(n, 29, 3), activations(n, 30, 1)]);
  return (backend, to, fused) =>
    T.tidy(() => {
      const [xData, gy] = inputs();
      const x = T.requireGrad(T.tensor(xData, shape, { backend }));
      const y = fused
        ? T.rope(x, 10000, 3, {
            roundOutput: to,
            roundInputGradient: to,
            halfOnly,
            halfOnlyGradient: halfOnly,
          })
        : valueRounded(T.rope(gradientRounded(x, to), 10000, 3), to);
      T.backward(y, T.tensor(gy, shape, { backend }));
      return { y: y.toArray(), gx: x.grad!.toArray() };
    });
}

/** T.matmul(a, b, { transB, roundOutput, halfOnly }) on (m, k) @ (n, k)ᵀ against roundTo of the product after it. */
export function matmulOutputCase(m: number, k: number, n: number, halfOnly = false): Case {
  const inputs = lazy(() => [activations(m * k, 31, 1), activations(n * k, 32, 1), uniform(m * n, 33)]);
  return (backend, to, fused) =>
    T.tidy(() => {
      const [aData, bData, gy] = inputs();
      const a = T.requireGrad(T.tensor(aData, [m, k], { backend }));
      const b = T.requireGrad(T.tensor(bData, [n, k], { backend }));
      const y = fused
        ? T.matmul(a, b, { transB: true, roundOutput: to, halfOnly })
        : valueRounded(T.matmul(a, b, { transB: true }), to);
      T.backward(y, T.tensor(gy, [m, n], { backend }));
      return { y: y.toArray(), ga: a.grad!.toArray(), gb: b.grad!.toArray() };
    });
}

/** T.fakeQuant(x, spec, 'clipped', { roundOutput, halfOnly }) against roundTo after it: int8 per tensor (QAT's
 *  activations) or int4 per row (its weights; rows of 64 are its KV cache's head rows). */
export function fakeQuantOutputCase(
  shape: readonly number[],
  granularity: 'tensor' | 'row',
  halfOnly = false,
): Case {
  const n = size(shape);
  const spec =
    granularity === 'tensor'
      ? quantSpec('int8', { granularity: { kind: 'tensor' } })
      : quantSpec('int4', { granularity: { kind: 'row' } });
  const inputs = lazy(() => [activations(n, 41, 3), uniform(n, 42)]);
  return (backend, to, fused) =>
    T.tidy(() => {
      const [xData, gy] = inputs();
      const x = T.requireGrad(T.tensor(xData, shape, { backend }));
      const y = fused
        ? T.fakeQuant(x, spec, 'clipped', { roundOutput: to, halfOnly })
        : valueRounded(T.fakeQuant(x, spec), to);
      T.backward(y, T.tensor(gy, shape, { backend }));
      return { y: y.toArray(), gx: x.grad!.toArray() };
    });
}

function bits(x: number): number {
  if (Number.isNaN(x)) return -1;
  return new Uint32Array(new Float32Array([x]).buffer)[0];
}

/** The first field and index where two runs differ in their bits, or null. */
export function firstDifference(ours: Run, want: Run): string | null {
  for (const key of Object.keys(want)) {
    if (ours[key].length !== want[key].length)
      return `${key}: length ${ours[key].length} vs ${want[key].length}`;
    for (let i = 0; i < want[key].length; i++) {
      if (bits(ours[key][i]) !== bits(want[key][i]))
        return `${key}[${i}]: ${ours[key][i]} vs ${want[key][i]}`;
    }
  }
  return null;
}
