// AdamW with global-norm gradient clipping, one fused backend kernel per parameter tensor, or one per group of
// tensors where the backend has adamwMulti (and one synchronization for the norm where it has sumSquaresMany).
// Decoupled weight decay applies to matrices only (not to norm gains), as is usual for transformers.

import type { AdamWArgs, Backend } from '../backends/backend.ts';
import type { Tensor } from '../tensor/index.ts';
import * as T from '../tensor/index.ts';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Clip the global gradient norm to this (0 disables). */
  gradClip: number;
}

export class AdamW {
  step = 0;
  readonly m = new Map<string, Tensor>();
  readonly v = new Map<string, Tensor>();

  constructor(
    readonly params: Map<string, Tensor>,
    readonly config: AdamWConfig,
  ) {
    for (const [name, p] of params) {
      this.m.set(name, T.zeros(p.shape, { backend: p.backend }).keep());
      this.v.set(name, T.zeros(p.shape, { backend: p.backend }).keep());
    }
  }

  /** Global L2 norm of all gradients (a missing gradient counts as zero). */
  gradNorm(): number {
    const params = this.withGrad();
    const backend = sharedBackend(params);
    if (backend?.sumSquaresMany) {
      const grads = params.map(([, p]) => p.grad!.handle);
      const sizes = params.map(([, p]) => p.size);
      return Math.sqrt(backend.sumSquaresMany(grads, sizes));
    }
    let sum = 0;
    for (const [, p] of params) sum += p.backend.sumSquares(p.grad!.handle, p.size);
    return Math.sqrt(sum);
  }

  /** One update at learning rate lr; returns the gradient norm before clipping (pass it when already known).
   *  Gradients of a loss multiplied by `lossScale` (fp16 loss scaling) are divided by it; knownNorm is then
   *  the norm after that division. Clears the gradients. */
  update(lr: number, knownNorm?: number, lossScale = 1): number {
    const norm = knownNorm ?? this.gradNorm() / lossScale;
    const { beta1, beta2, eps, weightDecay, gradClip } = this.config;
    const gradScale = (gradClip > 0 && norm > gradClip ? gradClip / (norm + 1e-6) : 1) / lossScale;
    this.step++;
    const args = (decay: number): AdamWArgs => ({
      lr,
      beta1,
      beta2,
      eps,
      weightDecay: decay,
      step: this.step,
      gradScale,
    });
    const decayOf = (p: Tensor) => (p.rank >= 2 ? weightDecay : 0);
    const params = this.withGrad();
    const backend = sharedBackend(params);
    if (backend?.adamwMulti) {
      // One call per distinct weight decay (matrices, gains); the tensors' updates are independent.
      for (const decay of new Set(params.map(([, p]) => decayOf(p)))) {
        const group = params.filter(([, p]) => decayOf(p) === decay);
        backend.adamwMulti(
          group.map(([, p]) => p.handle),
          group.map(([, p]) => p.grad!.handle),
          group.map(([name]) => this.m.get(name)!.handle),
          group.map(([name]) => this.v.get(name)!.handle),
          group.map(([, p]) => p.size),
          args(decay),
        );
      }
    } else {
      for (const [name, p] of params) {
        const [m, v] = [this.m.get(name)!, this.v.get(name)!];
        p.backend.adamw(p.handle, p.grad!.handle, m.handle, v.handle, p.size, args(decayOf(p)));
      }
    }
    this.zeroGrad();
    return norm;
  }

  /** The parameters that have a gradient, in insertion order. */
  private withGrad(): [string, Tensor][] {
    return [...this.params].filter(([, p]) => p.grad);
  }

  zeroGrad(): void {
    for (const p of this.params.values()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }
}

/** The one backend every parameter lives on, or null when they are spread over several (or there are none). */
function sharedBackend(params: [string, Tensor][]): Backend | null {
  const backend = params[0]?.[1].backend ?? null;
  return params.every(([, p]) => p.backend === backend) ? backend : null;
}

/** Linear warmup to lr, then cosine decay to lr * minRatio at totalSteps. */
export function learningRate(
  step: number,
  lr: number,
  warmup: number,
  totalSteps: number,
  minRatio: number,
): number {
  if (step < warmup) return (lr * (step + 1)) / warmup;
  const progress = Math.min(1, (step - warmup) / Math.max(1, totalSteps - warmup));
  return lr * (minRatio + (1 - minRatio) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}
