// The compute dtype of a training run (a recipe setting): fp32, or bf16 / fp16 autocast. Every backend rounds
// activations and their gradients to the half type at each layer boundary (src/nn/transformer.ts); on the js and
// cpu backends that rounding is the whole emulation, while on cuda the matmuls and attention also compute in the
// dtype for real (the backend's matmul mode: cuBLASLt and tensor-core flash attention on bf16 or IEEE half
// operands, fp32 accumulation). fp16 runs use dynamic loss scaling (loss-scale.ts) everywhere.
import type { Backend, DType } from '../backends/backend.ts';

export const computeDtypes = ['fp32', 'bf16', 'fp16'] as const;
export type ComputeDtype = (typeof computeDtypes)[number];

/** What each backend can train in; a backend not listed is assumed to be fp32-only. */
const supported: Readonly<Record<string, readonly ComputeDtype[]>> = {
  js: computeDtypes,
  cpu: computeDtypes,
  cuda: computeDtypes,
};

export const dtypesOf = (backend: string): readonly ComputeDtype[] => supported[backend] ?? ['fp32'];

/**
 * Null when `backend` trains in `dtype`, else the problem in words (the allowed dtypes named); an undefined
 * backend is the engine's default, which is checked when the run starts.
 */
export function dtypeProblem(dtype: ComputeDtype, backend: string | undefined): string | null {
  if (backend === undefined || dtype === 'fp32') return null;
  const allowed = dtypesOf(backend);
  return allowed.includes(dtype)
    ? null
    : `${dtype} compute is not available on the ${backend} backend (allowed there: ${allowed.join(', ')})`;
}

/** The storage type activations are rounded to under a half compute dtype (none for fp32). */
export const roundingOf = (dtype: ComputeDtype): Extract<DType, 'bf16' | 'f16'> | undefined =>
  dtype === 'bf16' ? 'bf16' : dtype === 'fp16' ? 'f16' : undefined;

interface WithMatmulMode {
  matmulMode(): string;
  setMatmulMode(mode: string): string;
}

/** The backend's matmul mode (cuda: the operand type of its matmuls and attention), or undefined without modes. */
export const matmulModeOf = (backend: Backend): string | undefined =>
  (backend as Partial<WithMatmulMode>).matmulMode?.();

/**
 * Whether the backend's products and attention round their operands to the half type `compute` (cuda in the
 * matmul mode of the same type): then a product's input need not be rounded before it, nor its output's gradient
 * after it, nor v before attention (ForwardOptions.productsRound). False without a compute type, or on a backend
 * without modes (js, cpu).
 */
export function productsRoundTo(backend: Backend, compute: 'bf16' | 'f16' | undefined): boolean {
  if (!compute) return false;
  return matmulModeOf(backend) === (compute === 'bf16' ? 'bf16' : 'fp16');
}

/**
 * Runs fn with the backend's matmul mode set for an explicit dtype (fp32 -> fp32, bf16 -> bf16, fp16 -> fp16)
 * where the backend has modes (cuda), restoring it after; without a dtype, or on a backend without modes, just
 * runs fn.
 */
export function withMatmulMode<R>(backend: Backend, dtype: ComputeDtype | undefined, fn: () => R): R {
  const modal = backend as Partial<WithMatmulMode>;
  if (!dtype || typeof modal.setMatmulMode !== 'function') return fn();
  const before = modal.setMatmulMode(dtype);
  try {
    return fn();
  } finally {
    modal.setMatmulMode(before);
  }
}
