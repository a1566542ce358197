// Each fused op of the training step against the unfused ops it replaced, forward and backward, at the shapes
// of bench/fused-step.ts's model (d128, dFf 344, B16 T128 = 2048 rows, V2048), on the cpu backend.
// Usage: BITSCALE_THREADS=1 tsx bench/fused-ops.ts [--reps 30]
// Prints one JSON line per case: { case, shape, fusedMs, unfusedMs, speedup } (the fastest of reps runs each).
import '../src/backends/index.ts';
import * as T from '../src/tensor/index.ts';

const args = process.argv.slice(2);
const i = args.indexOf('--reps');
const reps = i >= 0 ? Number(args[i + 1]) : 30;
const backend = T.setDefaultBackend('cpu');

function data(n: number, seed: number): Float32Array {
  const x = new Float32Array(n);
  let s = seed;
  for (let k = 0; k < n; k++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[k] = (s / 4294967296) * 4 - 2;
  }
  return x;
}

/** Fastest of reps runs of forward + backward (gradients of every input, upstream gradient given). */
function time(shapes: number[][], f: (xs: T.Tensor[]) => T.Tensor[]): number {
  const inputs = shapes.map((s, k) =>
    T.requireGrad(
      T.tensor(
        data(
          s.reduce((a, b) => a * b, 1),
          k + 1,
        ),
        s,
        { backend },
      ).keep(),
    ),
  );
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < reps + 2; r++) {
    const start = performance.now();
    T.tidy(() => {
      const outs = f(inputs);
      const loss = outs.reduce((acc: T.Tensor | null, o) => (acc ? T.add(acc, T.sum(o)) : T.sum(o)), null)!;
      T.backward(loss);
    });
    for (const x of inputs) {
      x.grad?.dispose();
      x.grad = null;
    }
    if (r >= 2) best = Math.min(best, performance.now() - start);
  }
  for (const x of inputs) x.dispose();
  return best;
}

// The sums that make a scalar loss cost the same on both sides, so the difference is the ops'.
const cases: {
  name: string;
  shapes: number[][];
  fused: (x: T.Tensor[]) => T.Tensor[];
  unfused: (x: T.Tensor[]) => T.Tensor[];
}[] = [
  {
    name: 'swiglu',
    shapes: [
      [2048, 344],
      [2048, 344],
    ],
    fused: ([g, u]) => [T.swiglu(g, u)],
    unfused: ([g, u]) => [T.mul(T.silu(g), u)],
  },
  {
    name: 'roundTo bf16 (activations)',
    shapes: [[2048, 128]],
    fused: ([x]) => [T.roundTo(x, 'bf16')],
    unfused: ([x]) => [T.cast(T.cast(x, 'bf16'), 'f32')],
  },
  {
    name: 'roundTo bf16 (logits)',
    shapes: [[2048, 2048]],
    fused: ([x]) => [T.roundTo(x, 'bf16')],
    unfused: ([x]) => [T.cast(T.cast(x, 'bf16'), 'f32')],
  },
  {
    name: 'addRmsNorm',
    shapes: [[2048, 128], [2048, 128], [128]],
    fused: ([x, r, w]) => {
      const { sum, out } = T.addRmsNorm(x, r, w);
      return [sum, out];
    },
    unfused: ([x, r, w]) => {
      const sum = T.add(x, r);
      return [sum, T.rmsNorm(sum, w)];
    },
  },
];

for (const c of cases) {
  const fusedMs = time(c.shapes, c.fused);
  const unfusedMs = time(c.shapes, c.unfused);
  console.log(
    JSON.stringify({ case: c.name, shape: c.shapes[0], fusedMs, unfusedMs, speedup: unfusedMs / fusedMs }),
  );
}
