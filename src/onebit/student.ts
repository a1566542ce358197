// The OneBit student of a teacher run: the teacher's shape with OneBit linear layers, started from the
// teacher's weights. SVID (by NMF, OneBit's choice, or by SVD) gives every linear layer latent W = the
// teacher's weight and value vectors from a rank-1 approximation of |W|; 'random' keeps the student's own
// fresh linear layers (the ablation). Embeddings and norms are copied from the teacher either way.
import { type ModelConfig, resolveModelConfig } from '../nn/config.ts';
import { isLinearWeight, type Params, parameterShapes, valueVectorNames } from '../nn/transformer.ts';
import type { Tensor } from '../tensor/index.ts';
import { OneBitError, TeacherRunError } from './errors.ts';
import { svidInit } from './linear.ts';
import type { Teacher } from './teacher.ts';

export type StudentInit = 'svid-nmf' | 'svid-svd' | 'random';
export const studentInits: readonly StudentInit[] = ['svid-nmf', 'svid-svd', 'random'];

/** Distillation from the teacher (OneBit) or plain cross-entropy on the data (the ablation). */
export type StudentLoss = 'distill' | 'ce';
export const studentLosses: readonly StudentLoss[] = ['distill', 'ce'];

export function checkStudentLoss(loss: unknown, field = 'loss'): StudentLoss {
  if (!studentLosses.includes(loss as StudentLoss))
    throw new OneBitError(field, JSON.stringify(loss), studentLosses.join(', '));
  return loss as StudentLoss;
}

export function checkStudentInit(init: unknown, field = 'init'): StudentInit {
  if (!studentInits.includes(init as StudentInit))
    throw new OneBitError(field, JSON.stringify(init), studentInits.join(', '));
  return init as StudentInit;
}

/** The teacher's model with OneBit linear layers; `overrides` (tests, experiments) may change its shape. */
export function studentModelOf(teacher: ModelConfig, overrides: Record<string, unknown> = {}): ModelConfig {
  // OneBit replaces the weight format (a bf16 teacher's activations and KV cache stay bf16).
  const precision = { ...teacher.precision, weights: 'fp32' };
  return resolveModelConfig({ ...teacher, precision, ...overrides, onebit: true });
}

/** Every teacher parameter must exist in the student with the same shape; errors name both. */
export function checkStudentShapes(student: ModelConfig, teacher: Teacher): void {
  const shapes = new Map(parameterShapes(student));
  for (const [name, shape] of parameterShapes(teacher.config.model)) {
    const got = shapes.get(name);
    if (!got)
      throw new TeacherRunError(
        teacher.dir,
        `the student has no parameter ${name} (teacher shape [${shape}])`,
      );
    if (got.join(',') !== shape.join(','))
      throw new TeacherRunError(
        teacher.dir,
        `student ${name} has shape [${got}], the teacher's is [${shape}]; the student must keep the teacher's shape`,
      );
  }
}

export interface StudentStart {
  init: StudentInit;
  /** Mean over linear layers of ||W - sign(W) ⊙ h gᵀ||_F / ||W||_F (SVID only). */
  svidRelativeError: number | null;
}

const write = (t: Tensor, data: Float32Array) => t.backend.write(t.handle, 'f32', data);

/** Sets the student's parameters (already initialized fresh) from the teacher, in place. */
export function initStudent(params: Params, teacher: Teacher, init: StudentInit): StudentStart {
  checkStudentInit(init);
  const errors: number[] = [];
  for (const [name, source] of teacher.params) {
    const target = params.get(name)!;
    const data = Float32Array.from(source.toArray());
    if (!isLinearWeight(name)) write(target, data);
    else if (init !== 'random') {
      const [rows, cols] = source.shape;
      const s = svidInit(data, rows, cols, init === 'svid-svd' ? 'svd' : 'nmf');
      const { g, h } = valueVectorNames(name);
      write(target, s.w);
      write(params.get(g)!, s.g);
      write(params.get(h)!, s.h);
      errors.push(s.relativeError);
    }
  }
  return {
    init,
    svidRelativeError: errors.length > 0 ? errors.reduce((a, b) => a + b, 0) / errors.length : null,
  };
}
