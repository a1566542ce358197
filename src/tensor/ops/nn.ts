// Fused neural-network ops: softmax, cross-entropy, norms, rotary embedding, attention, dropout, embedding.
// Each is one backend kernel forward and one backward, so native backends run them at full speed.
import { isGradEnabled, record } from '../autograd.ts';
import { EngineError, fmtShape } from '../errors.ts';
import type { GatheredGrads, Tensor } from '../tensor.ts';
import {
  backendOf,
  inverseCount,
  output,
  product,
  requireDtype,
  requireFloat,
  requireShape,
} from './common.ts';
import { takeRandom } from './create.ts';

const rowsOf = (x: Tensor) => ({ rows: x.size / x.shape[x.rank - 1], cols: x.shape[x.rank - 1] });

export function softmax(x: Tensor): Tensor {
  requireFloat('softmax', x);
  const { rows, cols } = rowsOf(x);
  const out = output(x.shape, x.backend);
  x.backend.softmax(x.handle, out.handle, rows, cols);
  return record(out, 'softmax', [x], (g) => {
    const gx = output(x.shape, x.backend);
    x.backend.softmaxGrad(out.handle, g.handle, gx.handle, rows, cols);
    return [gx];
  });
}

export function logSoftmax(x: Tensor): Tensor {
  requireFloat('logSoftmax', x);
  const { rows, cols } = rowsOf(x);
  const out = output(x.shape, x.backend);
  x.backend.logSoftmax(x.handle, out.handle, rows, cols);
  return record(out, 'logSoftmax', [x], (g) => {
    const gx = output(x.shape, x.backend);
    x.backend.logSoftmaxGrad(out.handle, g.handle, gx.handle, rows, cols);
    return [gx];
  });
}

/**
 * Cross-entropy of logits (..., V) against i32 targets (...). Targets < 0 are ignored.
 * reduction 'mean' averages over the targets that count; 'none' returns the per-position losses.
 */
export function crossEntropy(logits: Tensor, targets: Tensor, reduction: 'mean' | 'none' = 'mean'): Tensor {
  const backend = backendOf('crossEntropy', logits, targets);
  requireFloat('crossEntropy', logits);
  requireDtype('crossEntropy', targets, 'i32', 'targets');
  const { rows, cols } = rowsOf(logits);
  requireShape('crossEntropy', targets, logits.shape.slice(0, -1), 'targets');
  const losses = output(targets.shape, backend);
  const lse = output([rows], backend);
  backend.crossEntropy(logits.handle, targets.handle, losses.handle, lse.handle, rows, cols);
  const gradOf = (gLoss: Tensor) => {
    const gx = output(logits.shape, backend);
    backend.crossEntropyGrad(logits.handle, targets.handle, lse.handle, gLoss.handle, gx.handle, rows, cols);
    return [gx, null];
  };
  if (reduction === 'none') return record(losses, 'crossEntropy', [logits, targets], gradOf);

  // Mean over the counted targets. The count stays on the device: reading the targets back would wait for it.
  const scale = inverseCount(backend, targets, rows);
  const total = output([], backend);
  backend.reduce('sum', losses.handle, total.handle, 1, rows, 1);
  backend.binary('mul', total.handle, [1], scale.handle, [1], total.handle, [1]);
  return record(total, 'crossEntropy', [logits, targets], (g) => {
    const perRow = output([rows], backend);
    // d mean / d loss_r = 1 / counted: broadcast the scalar gradient to every row and scale it.
    backend.strided(g.handle, 0, [0], perRow.handle, 0, [1], [rows]);
    backend.binary('mul', perRow.handle, [1], scale.handle, [0], perRow.handle, [rows]);
    return gradOf(perRow);
  });
}

// ---- KL(teacher ‖ student) on logits, for distillation -------------------------------------------

/**
 * KL(teacher ‖ student) of logits (..., V): per row Σ_v p_t (log p_t − log p_s), p = softmax over the last
 * axis, in one fused kernel each way instead of log-softmax, exp, sub, mul and sum passes over (rows, V).
 * reduction 'sum' adds the rows; 'none' returns them (shape of the leading axes).
 * The teacher is a target: it gets no gradient, so one that requires gradients (outside noGrad) is refused
 * rather than silently left without one.
 */
export function klDivLogits(student: Tensor, teacher: Tensor, reduction: 'sum' | 'none' = 'sum'): Tensor {
  const backend = backendOf('klDivLogits', student, teacher);
  requireFloat('klDivLogits', student, teacher);
  requireShape('klDivLogits', teacher, student.shape, 'teacher');
  if (teacher.requiresGrad && isGradEnabled())
    throw new EngineError(
      'klDivLogits',
      'the teacher requires gradients, but it is a target and gets none: compute it under noGrad',
    );
  const { rows, cols } = rowsOf(student);
  const losses = output(student.shape.slice(0, -1), backend);
  const lseS = output([rows], backend);
  const lseT = output([rows], backend);
  backend.klDivLogits(student.handle, teacher.handle, losses.handle, lseS.handle, lseT.handle, rows, cols);
  const gradOf = (gLoss: Tensor) => {
    const gs = output(student.shape, backend);
    backend.klDivLogitsGrad(
      student.handle,
      teacher.handle,
      lseS.handle,
      lseT.handle,
      gLoss.handle,
      gs.handle,
      rows,
      cols,
    );
    return [gs, null];
  };
  if (reduction === 'none') return record(losses, 'klDivLogits', [student, teacher], gradOf);
  const total = output([], backend);
  backend.reduce('sum', losses.handle, total.handle, 1, rows, 1);
  return record(total, 'klDivLogits', [student, teacher], (g) => {
    const perRow = output([rows], backend);
    backend.strided(g.handle, 0, [0], perRow.handle, 0, [1], [rows]); // d sum / d loss_r = 1
    return gradOf(perRow);
  });
}

// ---- end KL on logits ----------------------------------------------------------------------------

/** RMSNorm over the last axis with a learned gain w (cols). */
export interface RmsNormOptions {
  /** Round the output's gradient to this half type as the backward loads it: bit for bit
   *  roundTo(rmsNorm(...), roundGradient, { value: false }) without that pass (the norm's output is only
   *  products' input, under emulated half compute). */
  roundGradient?: 'bf16' | 'f16';
}

export function rmsNorm(x: Tensor, w: Tensor, eps = 1e-6, options: RmsNormOptions = {}): Tensor {
  const backend = backendOf('rmsNorm', x, w);
  requireFloat('rmsNorm', x, w);
  const { rows, cols } = rowsOf(x);
  requireShape('rmsNorm', w, [cols], 'weight');
  const out = output(x.shape, backend);
  const rstd = output([rows], backend);
  backend.rmsNorm(x.handle, w.handle, out.handle, rstd.handle, rows, cols, eps);
  return record(out, 'rmsNorm', [x, w], rmsNormBackward(x, w, rstd, options.roundGradient));
}

/** The gradient of out = rmsNorm(x, w) given the rows' rstd (out's gradient rounded on load to `roundGy`): [gx, gw]. */
function rmsNormBackward(x: Tensor, w: Tensor, rstd: Tensor, roundGy: 'bf16' | 'f16' | undefined) {
  const { rows, cols } = rowsOf(x);
  return (g: Tensor, gathered: GatheredGrads) => {
    // x's gradient from its other use (the residual stream after addRmsNorm) is added to in the kernel.
    const into = x.requiresGrad ? gathered.take(0) : null;
    const gx = into ?? output(x.shape, x.backend);
    const gw = output([cols], x.backend);
    x.backend.rmsNormGrad(
      x.handle,
      w.handle,
      rstd.handle,
      g.handle,
      gx.handle,
      gw.handle,
      rows,
      cols,
      into !== null,
      roundGy,
    );
    return [gx, gw];
  };
}

export interface AddRmsNormOptions extends RmsNormOptions {
  /** Round the residual delta r to this half type as the kernel loads it: bit for bit
   *  addRmsNorm(x, roundTo(r, roundDelta, { gradient: false }), w, eps) without that pass (emulated half
   *  compute, where r is a product's output). r's gradient is sum's, not rounded. */
  roundDelta?: 'bf16' | 'f16';
  /** Round out (not sum) to this half type as the kernel stores it: bit for bit roundTo(out, roundOutput,
   *  { gradient: false }) after the op. */
  roundOutput?: 'bf16' | 'f16';
  /** out is read only by products (the next block's projections): see the backend's HalfOnly. */
  halfOnly?: boolean;
}

/**
 * A residual add and the RMSNorm after it: sum = x + r (same shapes) and out = rmsNorm(sum, w, eps), in one
 * kernel that reads x and r once, in place of an add and a norm. Both outputs are values of the graph as the
 * two ops would record them (sum an add of x and r, out a norm of sum), so gradients flow as before.
 */
export function addRmsNorm(
  x: Tensor,
  r: Tensor,
  w: Tensor,
  eps = 1e-6,
  options: AddRmsNormOptions = {},
): { sum: Tensor; out: Tensor } {
  const backend = backendOf('addRmsNorm', x, r, w);
  requireFloat('addRmsNorm', x, r, w);
  requireShape('addRmsNorm', r, x.shape, 'residual');
  const { rows, cols } = rowsOf(x);
  requireShape('addRmsNorm', w, [cols], 'weight');
  const sum = output(x.shape, backend);
  const out = output(x.shape, backend);
  const rstd = output([rows], backend);
  const { roundDelta, roundOutput, halfOnly } = options;
  backend.addRmsNorm(
    x.handle,
    r.handle,
    w.handle,
    sum.handle,
    out.handle,
    rstd.handle,
    rows,
    cols,
    eps,
    roundDelta,
    roundOutput,
    halfOnly,
  );
  // sum holds x + rounded r: the norm's backward reads that sum, as it would after a separate roundTo.
  record(sum, 'add', [x, r], (g) => [g, g]);
  return {
    sum,
    out: record(out, 'rmsNorm', [sum, w], rmsNormBackward(sum, w, rstd, options.roundGradient)),
  };
}

/** LayerNorm over the last axis; w and b optional (OneBit uses it without affine parameters). */
export function layerNorm(x: Tensor, w: Tensor | null = null, b: Tensor | null = null, eps = 1e-5): Tensor {
  const inputs = [x, ...(w ? [w] : []), ...(b ? [b] : [])];
  const backend = backendOf('layerNorm', ...inputs);
  requireFloat('layerNorm', ...inputs);
  const { rows, cols } = rowsOf(x);
  if (w) requireShape('layerNorm', w, [cols], 'weight');
  if (b) requireShape('layerNorm', b, [cols], 'bias');
  const out = output(x.shape, backend);
  const mean = output([rows], backend);
  const rstd = output([rows], backend);
  backend.layerNorm(
    x.handle,
    w?.handle ?? null,
    b?.handle ?? null,
    out.handle,
    mean.handle,
    rstd.handle,
    rows,
    cols,
    eps,
  );
  return record(out, 'layerNorm', inputs, (g) => {
    const gx = output(x.shape, backend);
    const gw = w ? output([cols], backend) : null;
    const gb = b ? output([cols], backend) : null;
    backend.layerNormGrad(
      x.handle,
      w?.handle ?? null,
      mean.handle,
      rstd.handle,
      g.handle,
      gx.handle,
      gw?.handle ?? null,
      gb?.handle ?? null,
      rows,
      cols,
    );
    return [gx, ...(w ? [gw] : []), ...(b ? [gb] : [])];
  });
}

function headDims(op: string, x: Tensor) {
  if (x.rank !== 4) throw new EngineError(op, `expects (B, T, nh, hs), got ${fmtShape(x.shape)}`);
  const [B, T, nh, hs] = x.shape;
  return { B, T, nh, hs };
}

export interface RopeOptions {
  /** Round x to this half type as the kernel loads it: bit for bit rope(roundTo(x, roundInput, { gradient:
   *  false }), base, posOffset) without that pass. The backward rotates the gradient and never reads x. */
  roundInput?: 'bf16' | 'f16';
  /** Round the output to this half type as the kernel stores it: bit for bit roundTo(rope(...), roundOutput,
   *  { gradient: false }). */
  roundOutput?: 'bf16' | 'f16';
  /** Round x's gradient to this half type as the backward stores it: bit for bit roundTo(x,
   *  roundInputGradient, { value: false }) before the op. */
  roundInputGradient?: 'bf16' | 'f16';
  /** The (rounded) output is read only by attention: see the backend's HalfOnly. */
  halfOnly?: boolean;
  /** The (rounded) gradient of x is read only by products (the projection that made x). */
  halfOnlyGradient?: boolean;
}

/** Rotary position embedding of x (B, T, nh, hs). */
export function rope(x: Tensor, base = 10000, posOffset = 0, options: RopeOptions = {}): Tensor {
  requireFloat('rope', x);
  const { B, T, nh, hs } = headDims('rope', x);
  if (hs % 2 !== 0) throw new EngineError('rope', `head size ${hs} must be even`);
  const out = output(x.shape, x.backend);
  const { roundInput, roundOutput, roundInputGradient, halfOnly, halfOnlyGradient } = options;
  x.backend.rope(x.handle, out.handle, B, T, nh, hs, base, posOffset, 1, roundInput, roundOutput, halfOnly);
  return record(out, 'rope', [x], (g) => {
    const gx = output(x.shape, x.backend);
    x.backend.rope(
      g.handle,
      gx.handle,
      B,
      T,
      nh,
      hs,
      base,
      posOffset,
      -1,
      undefined,
      roundInputGradient,
      halfOnlyGradient,
    );
    return [gx];
  });
}

/** Softmax attention; q, k, v and the result are (B, T, nh, hs). */
export function attention(q: Tensor, k: Tensor, v: Tensor, causal = true): Tensor {
  const backend = backendOf('attention', q, k, v);
  requireFloat('attention', q, k, v);
  const { B, T, nh, hs } = headDims('attention', q);
  requireShape('attention', k, q.shape, 'keys');
  requireShape('attention', v, q.shape, 'values');
  const scale = 1 / Math.sqrt(hs);
  const out = output(q.shape, backend);
  const lse = output([B, nh, T], backend);
  backend.attention(q.handle, k.handle, v.handle, out.handle, lse.handle, B, T, nh, hs, scale, causal);
  return record(out, 'attention', [q, k, v], (g) => {
    const gq = output(q.shape, backend);
    const gk = output(q.shape, backend);
    const gv = output(q.shape, backend);
    backend.attentionGrad(
      q.handle,
      k.handle,
      v.handle,
      out.handle,
      lse.handle,
      g.handle,
      gq.handle,
      gk.handle,
      gv.handle,
      B,
      T,
      nh,
      hs,
      scale,
      causal,
    );
    return [gq, gk, gv];
  });
}

/** Inverted dropout with probability p, drawing its mask from the global random stream. */
export function dropout(x: Tensor, p: number): Tensor {
  if (!(p >= 0 && p < 1)) throw new EngineError('dropout', `p must be in [0, 1), got ${p}`);
  if (p === 0) return x;
  requireFloat('dropout', x);
  const { seed, offset } = takeRandom(x.size);
  const out = output(x.shape, x.backend);
  x.backend.dropout(x.handle, out.handle, x.size, p, seed, offset);
  return record(out, 'dropout', [x], (g) => {
    const gx = output(x.shape, x.backend);
    x.backend.dropout(g.handle, gx.handle, x.size, p, seed, offset);
    return [gx];
  });
}

/** Rows of table (V, C) picked by i32 indices (...) -> (..., C); the gradient scatters back. */
export function embedding(table: Tensor, indices: Tensor): Tensor {
  const backend = backendOf('embedding', table, indices);
  requireFloat('embedding', table);
  requireDtype('embedding', indices, 'i32', 'indices');
  if (table.rank !== 2)
    throw new EngineError('embedding', `table must be (V, C), got ${fmtShape(table.shape)}`);
  const C = table.shape[1];
  const n = product(indices.shape);
  const out = output([...indices.shape, C], backend);
  backend.gather(table.handle, indices.handle, out.handle, n, C);
  return record(out, 'embedding', [table, indices], (g) => {
    const gt = output(table.shape, backend);
    backend.scatterAdd(g.handle, indices.handle, gt.handle, n, C);
    return [gt, null];
  });
}
