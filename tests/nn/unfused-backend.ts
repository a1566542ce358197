// A backend whose fused kernels (swiglu, roundTo, addRmsNorm) are computed by the kernels they replace: the
// unfused reference that the model tests (tests/nn/fused-step.test.ts, tests/cuda/fused-step.test.ts) compare
// the fused step against. An input the fused kernel rounds on load is rounded first, by the unfused roundTo.
import type { Backend } from '../../src/backends/backend.ts';

/** b with the fused kernels computed by the kernels they replace. */
export function unfused<S>(b: Backend<S>): Backend<S> {
  const roundTo = (x: S, out: S, to: 'bf16' | 'f16', n: number) => {
    const half = b.alloc(to, n);
    b.cast(x, 'f32', half, to, n);
    b.cast(half, to, out, 'f32', n);
    b.free(half);
  };
  /** f on x, or on a copy of x rounded to `to` when there is one. */
  const withRounded = (x: S, to: 'bf16' | 'f16' | undefined, n: number, f: (x: S) => void) => {
    if (!to) return f(x);
    const copy = b.alloc('f32', n);
    roundTo(x, copy, to, n);
    f(copy);
    b.free(copy);
  };
  const swiglu = (gate: S, up: S, out: S, n: number) => {
    b.unary('silu', gate, out, n);
    b.binary('mul', out, [1], up, [1], out, [n]);
  };
  const swigluGrad = (gate: S, up: S, gy: S, gGate: S, gUp: S, n: number) => {
    // As the mul rule then silu's gradient: gUp = gy silu(gate), gGate = silu'(gate) (gy up).
    b.unary('silu', gate, gUp, n);
    b.binary('mul', gy, [1], gUp, [1], gUp, [n]);
    const gSilu = b.alloc('f32', n);
    b.binary('mul', gy, [1], up, [1], gSilu, [n]);
    b.unaryGrad('silu', gate, gSilu, gGate, n);
    b.free(gSilu);
  };
  return {
    ...b,
    name: `${b.name}-unfused`,
    swiglu(gate, up, out, n, round, roundOutput) {
      withRounded(gate, round, n, (g) => withRounded(up, round, n, (u) => swiglu(g, u, out, n)));
      if (roundOutput) roundTo(out, out, roundOutput, n);
    },
    swigluGrad(gate, up, gy, gGate, gUp, n, round, roundGy) {
      withRounded(gate, round, n, (g) =>
        withRounded(up, round, n, (u) =>
          withRounded(gy, roundGy, n, (dy) => swigluGrad(g, u, dy, gGate, gUp, n)),
        ),
      );
    },
    roundTo,
    addRmsNorm(x, r, w, sum, out, rstd, rows, cols, eps, roundDelta) {
      withRounded(r, roundDelta, rows * cols, (rr) => {
        b.binary('add', x, [1], rr, [1], sum, [rows * cols]);
        b.rmsNorm(sum, w, out, rstd, rows, cols, eps);
      });
    },
  };
}
