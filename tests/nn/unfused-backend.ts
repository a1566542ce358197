// A backend whose fused kernels (swiglu, roundTo, addRmsNorm) are computed by the kernels they replace: the
// unfused reference that the model tests (tests/nn/fused-step.test.ts, tests/cuda/fused-step.test.ts) compare
// the fused step against.
import type { Backend } from '../../src/backends/backend.ts';

/** b with the fused kernels computed by the kernels they replace. */
export function unfused<S>(b: Backend<S>): Backend<S> {
  return {
    ...b,
    name: `${b.name}-unfused`,
    swiglu(gate, up, out, n) {
      b.unary('silu', gate, out, n);
      b.binary('mul', out, [1], up, [1], out, [n]);
    },
    swigluGrad(gate, up, gy, gGate, gUp, n) {
      // As the mul rule then silu's gradient: gUp = gy silu(gate), gGate = silu'(gate) (gy up).
      b.unary('silu', gate, gUp, n);
      b.binary('mul', gy, [1], gUp, [1], gUp, [n]);
      const gSilu = b.alloc('f32', n);
      b.binary('mul', gy, [1], up, [1], gSilu, [n]);
      b.unaryGrad('silu', gate, gSilu, gGate, n);
      b.free(gSilu);
    },
    roundTo(x, out, to, n) {
      const half = b.alloc(to, n);
      b.cast(x, 'f32', half, to, n);
      b.cast(half, to, out, 'f32', n);
      b.free(half);
    },
    addRmsNorm(x, r, w, sum, out, rstd, rows, cols, eps) {
      b.binary('add', x, [1], r, [1], sum, [rows * cols]);
      b.rmsNorm(sum, w, out, rstd, rows, cols, eps);
    },
  };
}
