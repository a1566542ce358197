// Held-out loss and accuracy of every task, and the frequency-weighted test loss
// (the expected loss of a sample drawn from the task distribution: sum_t p_t L_t).

import * as T from '../../tensor/index.ts';
import { type MlpConfig, type MlpParams, mlpForward } from './mlp.ts';
import { type Batch, sliceBatch } from './sparse-parity.ts';

export interface TaskMetrics {
  /** Mean cross-entropy (nats) per task. */
  loss: number[];
  accuracy: number[];
}

const CHUNK = 8192;

/** Per-task metrics on a task-major held-out set with `perTask` rows per task. */
export function evaluateTasks(
  model: MlpConfig,
  params: MlpParams,
  heldOut: Batch,
  nTasks: number,
  perTask: number,
): TaskMetrics {
  const loss = new Array<number>(nTasks).fill(0);
  const correct = new Array<number>(nTasks).fill(0);
  T.noGrad(() => {
    for (let start = 0; start < heldOut.size; start += CHUNK) {
      const part = sliceBatch(heldOut, start, Math.min(CHUNK, heldOut.size - start));
      const [losses, logits] = T.tidy(() => {
        const out = mlpForward(model, params, part);
        const ce = T.crossEntropy(out, T.tensor(part.labels, [part.size], { dtype: 'i32' }), 'none');
        return [ce.toArray(), out.toArray()];
      });
      for (let b = 0; b < part.size; b++) {
        const t = part.tasks[b];
        loss[t] += losses[b];
        const predicted = logits[2 * b + 1] > logits[2 * b] ? 1 : 0;
        if (predicted === part.labels[b]) correct[t]++;
      }
    }
  });
  return { loss: loss.map((l) => l / perTask), accuracy: correct.map((c) => c / perTask) };
}

export function weightedLoss(perTaskLoss: readonly number[], probabilities: Float64Array): number {
  let total = 0;
  perTaskLoss.forEach((l, t) => {
    total += probabilities[t] * l;
  });
  return total;
}
