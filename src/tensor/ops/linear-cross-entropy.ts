// The LM head fused with its cross-entropy: mean CE of the logits x @ wᵀ against targets, computed a chunk of
// rows at a time so the full (rows, V) fp32 logits — and their gradient — never exist at once.
// When a gradient will be needed, each chunk's logits are turned into their gradient in place right after its
// loss, and the chunk's dx and dw += are taken at once (Liger kernel's approach); backward then only scales
// the saved dx, dw by the upstream scalar. Built from existing kernels only: rows are copied in and out of
// the chunk's scratch with `strided`, products by `matmul`, per-row losses by `crossEntropy` / its gradient.
import { matmulArgs } from '../../backends/backend.ts';
import { isGradEnabled, record } from '../autograd.ts';
import { EngineError, fmtShape } from '../errors.ts';
import type { Tensor } from '../tensor.ts';
import { backendOf, inverseCount, output, requireDtype, requireShape } from './common.ts';

/** A chunk's fp32 logits stay within this many bytes unless options.chunkRows says otherwise. */
export const LINEAR_CROSS_ENTROPY_CHUNK_BYTES = 256 * 2 ** 20;

export interface LinearCrossEntropyOptions {
  /** Rows per chunk (a positive integer). Default: as many as keep a chunk's logits within 256 MiB. */
  chunkRows?: number;
  /** Rounds the logits, and then their gradient, to this half type and back, as a head whose logits are
   *  T.cast to half and back does. The gradient is rounded before the upstream scalar multiplies it, so it
   *  equals that head's only when the scalar is 1 (for bf16, any power of two): not under fp16 loss scaling. */
  round?: 'bf16' | 'f16';
  /** The backend's products round their operands to `round` themselves (ForwardOptions.productsRound): the
   *  gradient, which only the two products read, is then left to them, bit for bit as rounding it here. Then
   *  also the logits (read rounded) and their gradient (read by products) are rounded as they are stored, and
   *  a backend may keep them as 16-bit copies alone (HalfOnly). */
  productsRound?: boolean;
}

/**
 * Mean cross-entropy of the logits x (..., C) @ w (V, C)ᵀ against i32 targets (...): the same value and
 * gradients as T.crossEntropy(T.matmul(x, w, { transB: true }), targets), targets < 0 ignored and not counted.
 * Its gradients are computed in the forward whenever autograd records and x or w requires them, so the
 * result can be back-propagated once.
 */
export function linearCrossEntropy(
  x: Tensor,
  w: Tensor,
  targets: Tensor,
  options: LinearCrossEntropyOptions = {},
): Tensor {
  const op = 'linearCrossEntropy';
  const backend = backendOf(op, x, w, targets);
  requireDtype(op, x, 'f32', 'x');
  requireDtype(op, w, 'f32', 'w');
  requireDtype(op, targets, 'i32', 'targets');
  if (w.rank !== 2 || w.shape[0] < 1)
    throw new EngineError(op, `w has shape ${fmtShape(w.shape)}, expected (V, C) with V >= 1`);
  const [V, C] = w.shape;
  if (x.rank < 1 || x.shape[x.rank - 1] !== C)
    throw new EngineError(op, `x has shape ${fmtShape(x.shape)}, expected (..., ${C}) to match w (V, C)`);
  requireShape(op, targets, x.shape.slice(0, -1), 'targets');
  const chunkRows = options.chunkRows ?? Math.floor(LINEAR_CROSS_ENTROPY_CHUNK_BYTES / (4 * V));
  if (options.chunkRows !== undefined && !(Number.isInteger(chunkRows) && chunkRows >= 1))
    throw new EngineError(op, `options.chunkRows is ${options.chunkRows}, expected a positive integer`);

  const round = options.round;
  if (round !== undefined && round !== 'bf16' && round !== 'f16')
    throw new EngineError(op, `options.round is ${String(round)}, expected 'bf16', 'f16' or absent`);

  const rows = targets.size;
  const chunk = Math.min(rows, Math.max(1, chunkRows));
  const wantDx = isGradEnabled() && x.requiresGrad;
  const wantDw = isGradEnabled() && w.requiresGrad;
  const scale = inverseCount(backend, targets, rows); // 1 / (number of targets >= 0)
  const losses = output([rows], backend);
  const dx = wantDx ? output(x.shape, backend) : null;
  const dw = wantDw ? output(w.shape, backend) : null; // accumulated over chunks

  // One chunk's scratch, reused by every chunk (the last may use only its first rows).
  const logits = output([chunk, V], backend); // then, in place, d mean / d logits
  const xRows = output([chunk, C], backend);
  const tRows = output([chunk], backend, 'i32');
  const lossRows = output([chunk], backend);
  const lseRows = output([chunk], backend);
  const gRows = dx || dw ? output([chunk], backend) : null; // d mean / d loss_r = 1 / count, every row
  if (gRows) backend.strided(scale.handle, 0, [0], gRows.handle, 0, [1], [chunk]);
  const dxRows = dx ? output([chunk, C], backend) : null;
  // In place, one pass: what T.roundTo (and the cast to half and back before it) does.
  const rounded = (n: number) => round && backend.roundTo(logits.handle, logits.handle, round, n);
  // Where products round what they read, the logits and their gradient are kept as products and the kernels
  // read them: rounded as stored, as 16-bit copies alone where the backend can.
  const halfOnly = options.productsRound === true && round !== undefined;
  const stored = halfOnly ? round : undefined;

  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const n = Math.min(chunk, rows - r0);
    backend.strided(x.handle, r0 * C, [1], xRows.handle, 0, [1], [n * C]);
    backend.strided(targets.handle, r0, [1], tRows.handle, 0, [1], [n]);
    backend.matmul(
      xRows.handle,
      w.handle,
      logits.handle,
      matmulArgs(n, V, C, { transB: true, roundOutput: stored, halfOnly }),
    );
    // The kernels read the logits rounded (as a roundTo first would leave them).
    backend.crossEntropy(logits.handle, tRows.handle, lossRows.handle, lseRows.handle, n, V, round);
    backend.strided(lossRows.handle, 0, [1], losses.handle, r0, [1], [n]);
    if (!gRows) continue;
    // softmax − onehot, over the count, written over the logits it is computed from (elementwise, so safe).
    backend.crossEntropyGrad(
      logits.handle,
      tRows.handle,
      lseRows.handle,
      gRows.handle,
      logits.handle,
      n,
      V,
      round,
      stored,
      halfOnly,
    );
    if (!options.productsRound) rounded(n * V);
    if (dx && dxRows) {
      backend.matmul(logits.handle, w.handle, dxRows.handle, matmulArgs(n, C, V)); // (n, V) @ (V, C)
      backend.strided(dxRows.handle, 0, [1], dx.handle, r0 * C, [1], [n * C]);
    }
    // (n, V)ᵀ @ (n, C), added into dw
    if (dw)
      backend.matmul(
        logits.handle,
        xRows.handle,
        dw.handle,
        matmulArgs(V, C, n, { transA: true, accumulate: true }),
      );
  }
  for (const t of [logits, xRows, tRows, lossRows, lseRows, gRows, dxRows]) t?.dispose();

  const total = output([], backend);
  backend.reduce('sum', losses.handle, total.handle, 1, rows, 1);
  backend.binary('mul', total.handle, [1], scale.handle, [1], total.handle, [1]);
  losses.dispose();
  let spent = false;
  return record(total, op, [x, w, targets], (g) => {
    if (spent)
      throw new EngineError(
        op,
        'back-propagated twice: its gradients, made in the forward, are handed out once',
      );
    spent = true;
    // The saved gradients are of the mean itself: scale them by the upstream scalar, in place.
    for (const d of [dx, dw]) if (d) backend.binary('mul', d.handle, [1], g.handle, [0], d.handle, [d.size]);
    return [dx, dw, null];
  });
}
