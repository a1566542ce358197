// AdamW with global-norm gradient clipping, one fused backend kernel per parameter tensor.
// Decoupled weight decay applies to matrices only (not to norm gains), as is usual for transformers.

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
    let sum = 0;
    for (const p of this.params.values()) if (p.grad) sum += p.backend.sumSquares(p.grad.handle, p.size);
    return Math.sqrt(sum);
  }

  /** One update at learning rate lr; returns the gradient norm before clipping (pass it when already known).
   *  Clears the gradients. */
  update(lr: number, knownNorm?: number): number {
    const norm = knownNorm ?? this.gradNorm();
    const { gradClip } = this.config;
    const gradScale = gradClip > 0 && norm > gradClip ? gradClip / (norm + 1e-6) : 1;
    this.step++;
    for (const [name, p] of this.params) {
      if (!p.grad) continue;
      p.backend.adamw(p.handle, p.grad.handle, this.m.get(name)!.handle, this.v.get(name)!.handle, p.size, {
        lr,
        beta1: this.config.beta1,
        beta2: this.config.beta2,
        eps: this.config.eps,
        weightDecay: p.rank >= 2 ? this.config.weightDecay : 0,
        step: this.step,
        gradScale,
      });
    }
    this.zeroGrad();
    return norm;
  }

  zeroGrad(): void {
    for (const p of this.params.values()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }
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
