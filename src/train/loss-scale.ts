// Dynamic loss scaling for fp16 training, as torch.cuda.amp.GradScaler does it: the loss is multiplied by a
// scale S before backward so small gradients survive fp16; a step whose gradients overflowed (inf/nan) is
// skipped and S halved; after `window` good steps in a row S doubles.

export interface LossScaleConfig {
  /** Initial scale (2^16 by default, as PyTorch). */
  initial: number;
  /** Good steps before the scale doubles. */
  window: number;
}

export const defaultLossScale: LossScaleConfig = { initial: 2 ** 16, window: 2000 };

export class LossScaler {
  scale: number;
  overflowSteps = 0;
  private goodSteps = 0;

  constructor(readonly config: LossScaleConfig = defaultLossScale) {
    this.scale = config.initial;
  }

  /** Records one step's outcome from its (scaled) gradient norm; returns whether the step may be applied. */
  update(scaledGradNorm: number): boolean {
    if (!Number.isFinite(scaledGradNorm)) {
      this.overflowSteps++;
      this.goodSteps = 0;
      this.scale = Math.max(this.scale / 2, 2 ** -24);
      return false;
    }
    if (++this.goodSteps >= this.config.window) {
      this.goodSteps = 0;
      this.scale = Math.min(this.scale * 2, 2 ** 24);
    }
    return true;
  }
}
