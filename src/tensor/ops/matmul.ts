// Matrix products. a (..., m, k) @ b (..., k, n) with optional transposes of either operand's last two axes.
// A 2-D b is shared by every matrix of a (a linear layer): then a's leading axes fold into m and the whole
// product — and both its gradients — is one GEMM.
import { type MatmulArgs, matmulArgs } from '../../backends/backend.ts';
import { record } from '../autograd.ts';
import { EngineError, fmtShape } from '../errors.ts';
import type { Tensor } from '../tensor.ts';
import { backendOf, gradientInto, output, product, requireFloat } from './common.ts';

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  /** Round the product to this half type as it is stored: bit for bit roundTo(matmul(...), roundOutput,
   *  { gradient: false }) without that pass. */
  roundOutput?: 'bf16' | 'f16';
  /** The (rounded) product is read only by products and attention, which round it themselves, or by kernels
   *  that read it rounded (rope, swiglu, addRmsNorm): see the backend's HalfOnly. */
  halfOnly?: boolean;
}

export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const transA = options.transA ?? false;
  const transB = options.transB ?? false;
  const backend = backendOf('matmul', a, b);
  requireFloat('matmul', a, b);
  const fail = (why: string) => {
    throw new EngineError(
      'matmul',
      `${fmtShape(a.shape)}${transA ? 'ᵀ' : ''} @ ${fmtShape(b.shape)}${transB ? 'ᵀ' : ''}: ${why}`,
    );
  };
  if (a.rank < 2 || b.rank < 2) fail('operands need at least 2 dimensions');
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const m = transA ? ac : ar;
  const k = transA ? ar : ac;
  const kb = transB ? bc : br;
  const n = transB ? br : bc;
  if (k !== kb) fail(`inner dimensions ${k} and ${kb} differ`);

  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  let args: MatmulArgs;
  let outShape: number[];
  if (bBatch.length === 0 && !transA) {
    // Fold a's batch into m: one (batch*m, k) @ (k, n) product.
    args = matmulArgs(product(aBatch) * m, n, k, { transA, transB });
    outShape = [...aBatch, m, n];
  } else {
    if (aBatch.length !== bBatch.length || aBatch.some((d, i) => d !== bBatch[i])) {
      fail('batch dimensions must match (or b must be 2-D)');
    }
    const batch = product(aBatch);
    args = {
      batch,
      m,
      n,
      k,
      transA,
      transB,
      aBatchStride: m * k,
      bBatchStride: k * n,
      alpha: 1,
      accumulate: false,
    };
    outShape = [...aBatch, m, n];
  }
  const out = output(outShape, backend);
  backend.matmul(a.handle, b.handle, out.handle, {
    ...args,
    roundOutput: options.roundOutput,
    halfOnly: options.halfOnly,
  });

  return record(out, 'matmul', [a, b], (g, gathered) => {
    // A gradient gathered from the input's other uses is accumulated into by the GEMM.
    const { grad: ga, accumulate: intoA } = gradientInto(a, 0, gathered);
    const { grad: gb, accumulate: intoB } = gradientInto(b, 1, gathered);
    const base = { alpha: 1 };
    const folded = args.batch === 1 && bBatch.length === 0;
    const M = args.m;
    const batch = args.batch;
    const gStride = folded ? 0 : M * n;
    if (ga) {
      // dA = G op(B)ᵀ, or its transpose when A was transposed.
      const da: MatmulArgs = transA
        ? {
            ...base,
            accumulate: intoA,
            batch,
            m: k,
            n: M,
            k: n,
            transA: transB,
            transB: true,
            aBatchStride: args.bBatchStride,
            bBatchStride: gStride,
          }
        : {
            ...base,
            accumulate: intoA,
            batch,
            m: M,
            n: k,
            k: n,
            transA: false,
            transB: !transB,
            aBatchStride: gStride,
            bBatchStride: args.bBatchStride,
          };
      if (transA) backend.matmul(b.handle, g.handle, ga.handle, da);
      else backend.matmul(g.handle, b.handle, ga.handle, da);
    }
    if (gb) {
      // dB = op(A)ᵀ G, or its transpose when B was transposed. Folded: the batch is summed by the GEMM's k.
      const db: MatmulArgs = transB
        ? {
            ...base,
            accumulate: intoB,
            batch,
            m: n,
            n: k,
            k: M,
            transA: true,
            transB: transA,
            aBatchStride: gStride,
            bBatchStride: args.aBatchStride,
          }
        : {
            ...base,
            accumulate: intoB,
            batch,
            m: k,
            n,
            k: M,
            transA: !transA,
            transB: false,
            aBatchStride: args.aBatchStride,
            bBatchStride: gStride,
          };
      if (transB) backend.matmul(g.handle, a.handle, gb.handle, db);
      else backend.matmul(a.handle, g.handle, gb.handle, db);
    }
    return [ga, gb];
  });
}
