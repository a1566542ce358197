// A linear layer computed in FP8, as Transformer Engine does: y = Q4(x) @ Q4(W)ᵀ forward, and in backward
// dx = Q5(g) @ Q4(W), dW = Q5(g)ᵀ @ Q4(x), where Q4/Q5 quantize to E4M3/E5M2 with one absmax scale per tensor
// (current scaling). Forward values are exactly fakeQuant(x) @ fakeQuant(W)ᵀ; the gradient differs from
// fake quantization's straight-through one only by rounding g to E5M2. Native on backends with matmulFp8 (FP8
// tensor cores); elsewhere the same numbers from fakeQuant and matmul.
import { type Backend, type Fp8Format, type Fp8MatmulArgs, matmulArgs } from '../../backends/backend.ts';
import { quantSpec } from '../../numerics/spec.ts';
import { record } from '../autograd.ts';
import { EngineError, fmtShape } from '../errors.ts';
import type { Tensor } from '../tensor.ts';
import { backendOf, gradientInto, output, requireFloat } from './common.ts';

/** Whether this backend multiplies FP8 on its own hardware (null) or why not. */
export function fp8ProblemOf(backend: Backend): string | null {
  if (!backend.matmulFp8) return `the ${backend.name} backend has no FP8 products`;
  return backend.fp8Problem ? backend.fp8Problem() : null;
}

/** out = Q_a(op(A)) @ Q_b(op(B)) (args' roundings and accumulation included): the backend's FP8 product, or its
 *  emulation (roundTo, fakeQuant, then matmul). */
export function matmulFp8Into(
  backend: Backend,
  a: unknown,
  b: unknown,
  out: unknown,
  args: Fp8MatmulArgs,
): void {
  if (backend.matmulFp8 && fp8ProblemOf(backend) === null) {
    backend.matmulFp8(a, b, out, args);
    return;
  }
  const temporaries: unknown[] = [];
  const temporary = (size: number) => {
    const t = backend.alloc('f32', size);
    temporaries.push(t);
    return t;
  };
  const quantized = (x: unknown, size: number, format: Fp8Format, round?: 'bf16' | 'f16') => {
    let source = x;
    if (round) {
      source = temporary(size);
      backend.roundTo(x, source, round, size);
    }
    const q = temporary(size);
    backend.fakeQuant(quantSpec(format), source, q, 1, size, null); // one scale for the whole tensor
    return q;
  };
  const { m, n, k } = args;
  try {
    const qa = quantized(a, m * k, args.aFormat, args.roundA);
    const qb = quantized(b, k * n, args.bFormat, args.roundB);
    backend.matmul(
      qa,
      qb,
      out,
      matmulArgs(m, n, k, {
        transA: args.transA,
        transB: args.transB,
        accumulate: args.accumulate ?? false,
        roundOutput: args.roundOutput,
      }),
    );
  } finally {
    for (const t of temporaries) backend.free(t);
  }
}

/** Widths an FP8 product needs (cuBLASLt): every dimension a multiple of 16. */
export const FP8_MULTIPLE = 16;

export interface LinearFp8Options {
  /** x's values rounded to this half type before E4M3 (the half compute's activations): the product reads x's
   *  16-bit copy, so a model need not round x itself. The weight gradient's product reads x the same way. */
  roundInput?: 'bf16' | 'f16';
  /** The output's gradient rounded to this half type before E5M2 (what roundTo's gradient would have done). */
  roundGradient?: 'bf16' | 'f16';
  /** y rounded to this half type as it is stored (as MatmulOptions.roundOutput). */
  roundOutput?: 'bf16' | 'f16';
  /** See MatmulOptions.halfOnly. */
  halfOnly?: boolean;
}

/** y (..., n) = x (..., k) @ w (n, k)ᵀ with E4M3 operands and E5M2 output gradients (see above). */
export function linearFp8(x: Tensor, w: Tensor, options: LinearFp8Options = {}): Tensor {
  const backend = backendOf('linearFp8', x, w);
  requireFloat('linearFp8', x, w);
  if (x.rank < 1 || w.rank !== 2 || x.shape[x.rank - 1] !== w.shape[1])
    throw new EngineError(
      'linearFp8',
      `x ${fmtShape(x.shape)} @ w ${fmtShape(w.shape)}ᵀ: w must be (out, in) with in = x's last axis`,
    );
  const k = w.shape[1];
  const n = w.shape[0];
  const m = x.size / k;
  if (m % FP8_MULTIPLE || n % FP8_MULTIPLE || k % FP8_MULTIPLE)
    throw new EngineError(
      'linearFp8',
      `rows ${m}, out ${n}, in ${k}: FP8 products need each a multiple of ${FP8_MULTIPLE}`,
    );
  const out = output([...x.shape.slice(0, -1), n], backend);
  const e4 = 'fp8_e4m3' as const;
  const e5 = 'fp8_e5m2' as const;
  const { roundInput, roundGradient } = options;
  matmulFp8Into(backend, x.handle, w.handle, out.handle, {
    m,
    n,
    k,
    transA: false,
    transB: true,
    aFormat: e4,
    bFormat: e4,
    roundA: roundInput,
    roundOutput: options.roundOutput,
    halfOnly: options.halfOnly,
  });
  return record(out, 'linearFp8', [x, w], (g, gathered) => {
    // A gradient gathered from the input's other uses is accumulated into by the product.
    const { grad: gx, accumulate: intoX } = gradientInto(x, 0, gathered);
    const { grad: gw, accumulate: intoW } = gradientInto(w, 1, gathered);
    // dx (m, k) = Q5(g) (m, n) @ Q4(W) (n, k)
    if (gx)
      matmulFp8Into(backend, g.handle, w.handle, gx.handle, {
        m,
        n: k,
        k: n,
        transA: false,
        transB: false,
        aFormat: e5,
        bFormat: e4,
        roundA: roundGradient,
        accumulate: intoX,
      });
    // dW (n, k) = Q5(g)ᵀ (n, m) @ Q4(x) (m, k)
    if (gw)
      matmulFp8Into(backend, g.handle, x.handle, gw.handle, {
        m: n,
        n: k,
        k: m,
        transA: true,
        transB: false,
        aFormat: e5,
        bFormat: e4,
        roundA: roundGradient,
        roundB: roundInput,
        accumulate: intoW,
      });
    return [gx, gw];
  });
}
