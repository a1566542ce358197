// OneBit's knowledge-distillation objective (Xu et al. 2024; defaults from its public training script,
// kd_alpha 1, kd_loss_scale 0.01, kd_beta 1):
//   loss = α · s · KL(teacher ‖ student) + (1 − α) · CE(student, targets) + β · Σ_layers MSE_hidden
//   KL:  Σ over tokens and vocabulary of p_t (log p_t − log p_s), divided by the batch size (the first axis;
//        PyTorch's "batchmean"), which is why the scale s is small. One fused op (T.klDivLogits) each way.
//   MSE_hidden per layer: the mean over tokens of ‖ĥ_t − ĥ_s‖², ĥ = h / ‖h‖ per token (last axis).
// Teacher tensors are targets: compute them under T.noGrad; only the student receives gradients.
import * as T from '../tensor/index.ts';
import { OneBitError } from './errors.ts';

export interface DistillOptions {
  /** Weight of the KL term against cross-entropy with the data (1: distillation only). */
  alpha?: number;
  /** Scale of the KL term (it is summed over tokens). */
  logitScale?: number;
  /** Weight of the hidden-state term. */
  beta?: number;
}

export const onebitDistillDefaults: Required<DistillOptions> = { alpha: 1, logitScale: 0.01, beta: 1 };

export interface ModelOutputs {
  /** (batch, ..., vocab) */
  logits: T.Tensor;
  /** One (batch, ..., width) tensor per layer compared, in the same order for teacher and student. */
  hidden: readonly T.Tensor[];
}

export interface DistillLoss {
  loss: T.Tensor;
  kl: T.Tensor;
  hidden: T.Tensor;
  /** null when α = 1 (no data term). */
  crossEntropy: T.Tensor | null;
}

function sameShape(a: T.Tensor, b: T.Tensor, what: string): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i]))
    throw new OneBitError(what, `student [${a.shape}] vs teacher [${b.shape}]`, 'equal shapes');
}

/** Per-token L2 normalization along the last axis. */
function normalize(h: T.Tensor): T.Tensor {
  return T.mul(h, T.rsqrt(T.affine(T.sum(T.square(h), -1, true), 1, 1e-24)));
}

export function distillLoss(
  student: ModelOutputs,
  teacher: ModelOutputs,
  targets: T.Tensor | null = null,
  options: DistillOptions = {},
): DistillLoss {
  const { alpha, logitScale, beta } = { ...onebitDistillDefaults, ...options };
  sameShape(student.logits, teacher.logits, 'logits');
  if (student.hidden.length !== teacher.hidden.length)
    throw new OneBitError(
      'hidden',
      `${student.hidden.length} student layers vs ${teacher.hidden.length}`,
      'as many teacher layers',
    );
  if (alpha < 1 && targets === null) throw new OneBitError('targets', null, 'token targets when alpha < 1');
  const batch = student.logits.shape[0];
  const kl = T.affine(T.klDivLogits(student.logits, teacher.logits, 'sum'), 1 / batch);
  let hidden = T.scalar(0, { backend: student.logits.backend });
  student.hidden.forEach((hs, i) => {
    const ht = teacher.hidden[i];
    sameShape(hs, ht, `hidden[${i}]`);
    const tokens = hs.size / hs.shape[hs.rank - 1];
    const d = T.sub(normalize(hs), normalize(ht));
    hidden = T.add(hidden, T.affine(T.sum(T.square(d)), 1 / tokens));
  });
  const crossEntropy = alpha < 1 ? T.crossEntropy(student.logits, targets!) : null;
  let loss = T.add(T.affine(kl, alpha * logitScale), T.affine(hidden, beta));
  if (crossEntropy) loss = T.add(loss, T.affine(crossEntropy, 1 - alpha));
  return { loss, kl, hidden, crossEntropy };
}
