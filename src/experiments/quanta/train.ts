// Trains one MLP on multitask sparse parity with the engine and AdamW (constant learning rate, as in the
// paper), recording per-task held-out loss and accuracy every `evalEvery` steps.

import '../../backends/index.ts';
import * as T from '../../tensor/index.ts';
import { AdamW } from '../../train/adamw.ts';
import { integerIn, numberAbove, QuantaConfigError, QuantaError } from './errors.ts';
import { evaluateTasks, weightedLoss } from './evaluate.ts';
import { disposeParams, initMlp, type MlpConfig, mlpForward, mlpParameterCount, validateMlp } from './mlp.ts';
import { type Batch, MultitaskSparseParity, type SparseParityConfig, sliceBatch } from './sparse-parity.ts';

export interface QuantaTrainSettings {
  steps: number;
  batchSize: number;
  lr: number;
  weightDecay: number;
  /** D: a fixed pool of this many samples, cycled through (repeated epochs); null = fresh samples every step. */
  samples: number | null;
  evalEvery: number;
  /** Held-out samples per task for the per-task curves. */
  heldOutPerTask: number;
  /** Seed of the model's initialization (the task's own seed fixes the data). */
  seed: number;
  /** Engine backend to train on; an unavailable one is an error, not a silent fallback to 'js'. */
  backend?: string;
}

export interface QuantaRunConfig {
  task: SparseParityConfig;
  model: MlpConfig;
  train: QuantaTrainSettings;
}

export interface QuantaCurve {
  steps: number[];
  /** Frequency-weighted held-out loss at each evaluation. */
  testLoss: number[];
  /** Mean training-batch loss since the previous evaluation. */
  trainLoss: number[];
  /** [task][evaluation], tasks by frequency rank. */
  perTaskLoss: number[][];
  perTaskAccuracy: number[][];
}

export interface QuantaRunResult {
  parameters: number;
  steps: number;
  samplesSeen: number;
  testLoss: number;
  /** Lowest evaluated test loss (early stopping: what a data-limited run is scored by). */
  bestTestLoss: number;
  wallSeconds: number;
  curve: QuantaCurve;
}

export interface TrainHooks {
  onProgress?: (fraction: number, message: string) => void;
  signal?: AbortSignal;
}

export function validateTrainSettings(s: QuantaTrainSettings, field = 'train'): QuantaTrainSettings {
  integerIn(`${field}.steps`, s.steps, 1);
  integerIn(`${field}.batchSize`, s.batchSize, 1);
  numberAbove(`${field}.lr`, s.lr, 0);
  numberAbove(`${field}.weightDecay`, s.weightDecay, 0, true);
  if (s.samples !== null) integerIn(`${field}.samples`, s.samples, 1);
  integerIn(`${field}.evalEvery`, s.evalEvery, 1);
  integerIn(`${field}.heldOutPerTask`, s.heldOutPerTask, 1);
  integerIn(`${field}.seed`, s.seed, 0);
  if (s.evalEvery > s.steps) {
    throw new QuantaConfigError(`${field}.evalEvery`, s.evalEvery, `at most train.steps = ${s.steps}`);
  }
  return s;
}

/**
 * Trains one run. Async only to yield to the event loop at each evaluation, so a sweep worker sees
 * its abort signal and its parent's disconnect while it trains.
 */
export async function trainQuanta(config: QuantaRunConfig, hooks: TrainHooks = {}): Promise<QuantaRunResult> {
  const started = performance.now();
  const { model, train: s } = config;
  validateMlp(model);
  validateTrainSettings(s);
  if (s.backend) T.setDefaultBackend(s.backend);
  const world = new MultitaskSparseParity(config.task);
  const { nTasks, n } = config.task;
  const params = initMlp(model, nTasks, n, s.seed);
  const optimizer = new AdamW(params, {
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    weightDecay: s.weightDecay,
    gradClip: 0,
  });
  const heldOut = world.heldOut(s.heldOutPerTask);
  const pool = s.samples === null ? null : world.trainingPool(s.samples);
  const batchAt = (step: number): Batch =>
    pool
      ? sliceBatch(pool, (step * s.batchSize) % pool.size, s.batchSize)
      : world.trainBatch(step, s.batchSize);

  // Besides every evalEvery steps, evaluate at log-spaced early steps (x1.25) so emergence and L(S) are
  // resolved on a log-step axis.
  const earlyEvals = new Set<number>();
  for (let x = 1; x < s.evalEvery; x *= 1.25) earlyEvals.add(Math.ceil(x));
  const curve: QuantaCurve = {
    steps: [],
    testLoss: [],
    trainLoss: [],
    perTaskLoss: Array.from({ length: nTasks }, () => []),
    perTaskAccuracy: Array.from({ length: nTasks }, () => []),
  };
  let trainSum = 0;
  let trainCount = 0;
  try {
    for (let step = 0; step < s.steps; step++) {
      if (hooks.signal?.aborted) throw hooks.signal.reason ?? new QuantaError('training aborted');
      const batch = batchAt(step);
      const loss = T.tidy(() => {
        const l = T.crossEntropy(
          mlpForward(model, params, batch),
          T.tensor(batch.labels, [batch.size], { dtype: 'i32' }),
        );
        T.backward(l);
        return l.item();
      });
      if (!Number.isFinite(loss)) throw new QuantaError(`training diverged at step ${step} (loss ${loss})`);
      optimizer.update(s.lr);
      trainSum += loss;
      trainCount++;
      const done = step + 1;
      if (done % s.evalEvery === 0 || done === s.steps || earlyEvals.has(done)) {
        const m = evaluateTasks(model, params, heldOut, nTasks, s.heldOutPerTask);
        curve.steps.push(done);
        curve.testLoss.push(weightedLoss(m.loss, world.probabilities));
        curve.trainLoss.push(trainSum / trainCount);
        trainSum = trainCount = 0;
        for (let t = 0; t < nTasks; t++) {
          curve.perTaskLoss[t].push(m.loss[t]);
          curve.perTaskAccuracy[t].push(m.accuracy[t]);
        }
        await new Promise((resolve) => setImmediate(resolve));
        hooks.onProgress?.(
          done / s.steps,
          `step ${done}/${s.steps} test loss ${curve.testLoss.at(-1)!.toFixed(4)}`,
        );
      }
    }
  } finally {
    disposeParams(params);
    for (const t of [...optimizer.m.values(), ...optimizer.v.values()]) t.dispose();
  }
  return {
    parameters: mlpParameterCount(model, nTasks, n),
    steps: s.steps,
    samplesSeen: s.steps * s.batchSize,
    testLoss: curve.testLoss.at(-1)!,
    bestTestLoss: Math.min(...curve.testLoss),
    wallSeconds: (performance.now() - started) / 1000,
    curve,
  };
}
