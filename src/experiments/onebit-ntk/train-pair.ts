// Trains a 1-bit network and its full-precision twin side by side with full-batch gradient descent on the
// same data, measuring at log-spaced steps: train / held-out loss, NTK drift on the probe set, the gap
// mean |f_1bit(x) - f_fp(x)| on held-out inputs, and for the 1-bit network the fraction of flipped signs.

import * as T from '../../tensor/index.ts';
import { parameterCount, type RunConfig } from './config.ts';
import { empiricalNtk, relativeChange } from './empirical-ntk.ts';
import { OnebitNtkError } from './errors.ts';
import { makeTask } from './tasks.ts';
import { type Precision, TwoLayerNet } from './two-layer.ts';

export interface PrecisionMetrics {
  trainLoss: number;
  testLoss: number;
  /** ||K_t - K_0||_F / ||K_0||_F on the probe set. */
  ntkDrift: number;
  /** ||W_t - W_0||_F / ||W_0||_F of the latent hidden weights. */
  weightChange: number;
  /** Classification only: held-out error rate of sign(f). */
  testError?: number;
}

export interface Measurement {
  step: number;
  onebit: PrecisionMetrics;
  fp: PrecisionMetrics;
  /** mean |f_1bit(x) - f_fp(x)| over held-out x. */
  genDiff: number;
  /** Fraction of hidden weights whose sign differs from init (the 1-bit network's only way to move). */
  flippedSigns: number;
}

export interface RunResult {
  config: RunConfig;
  /** Trainable parameters of one network. */
  parameters: number;
  /** 6 * N * nTrain * steps, the Kaplan count of one network's training. */
  compute: number;
  trajectory: Measurement[];
  final: Measurement;
  seconds: number;
  /** The engine backend the run used (a native backend that fails to load falls back to js). */
  backend: string;
}

/** Steps 0, the last, and `count` log-spaced steps between. */
export function measurementSteps(steps: number, count: number): number[] {
  const at = new Set([0, steps]);
  for (let i = 1; i <= count; i++) at.add(Math.round(steps ** (i / count)));
  return [...at].sort((a, b) => a - b);
}

export interface TrainOptions {
  /** Called every step (cheap): sweep jobs use it to keep their claim alive. */
  onProgress?: (fraction: number) => void;
  signal?: AbortSignal;
}

export function trainPair(config: RunConfig, options: TrainOptions = {}): RunResult {
  const started = performance.now();
  const task = makeTask(config);
  const d = config.inputDim;
  const probes = task.xTrain.subarray(0, Math.min(config.probeSize, config.nTrain) * d);
  const xTrain = T.tensor(task.xTrain, [config.nTrain, d]).keep();
  const yTrain = T.tensor(task.yTrain, [config.nTrain, 1]).keep();
  const xTest = T.tensor(task.xTest, [config.nTest, d]).keep();
  const yTest = T.tensor(task.yTest, [config.nTest, 1]).keep();
  const nets = TwoLayerNet.twins(config);
  const init = {
    onebit: { kernel: empiricalNtk(nets.onebit, probes, d), latent: nets.onebit.latent.toArray() },
    fp: { kernel: empiricalNtk(nets.fp, probes, d), latent: nets.fp.latent.toArray() },
  };
  const lr = config.parameterization === 'mean-field' ? config.lr * config.width : config.lr;
  const at = new Set(measurementSteps(config.steps, config.measurements));
  const trajectory: Measurement[] = [];

  const measure = (step: number): Measurement => {
    const metrics = (p: Precision): PrecisionMetrics => {
      const net = nets[p];
      const m: PrecisionMetrics = {
        trainLoss: T.tidy(() => halfMse(net.forward(xTrain), yTrain).item()),
        testLoss: T.tidy(() => halfMse(net.forward(xTest), yTest).item()),
        ntkDrift: step === 0 ? 0 : relativeChange(empiricalNtk(net, probes, d), init[p].kernel),
        weightChange: relativeDistance(net.latent.toArray(), init[p].latent),
      };
      if (config.task === 'classification')
        m.testError = T.tidy(() => errorRate(net.forward(xTest), task.yTest));
      return m;
    };
    const onebit = metrics('onebit');
    const fp = metrics('fp');
    const genDiff = T.tidy(() =>
      T.mean(T.abs(T.sub(nets.onebit.forward(xTest), nets.fp.forward(xTest)))).item(),
    );
    return {
      step,
      onebit,
      fp,
      genDiff,
      flippedSigns: flippedFraction(nets.onebit.latent.toArray(), init.onebit.latent),
    };
  };

  try {
    for (let step = 0; step <= config.steps; step++) {
      if (at.has(step)) {
        const m = measure(step);
        if (![m.onebit.trainLoss, m.fp.trainLoss].every(Number.isFinite)) {
          throw new OnebitNtkError(
            `training diverged at step ${step} (lr ${config.lr}, width ${config.width}); lower lr`,
          );
        }
        trajectory.push(m);
      }
      options.onProgress?.(step / Math.max(1, config.steps));
      if (step === config.steps) break;
      if (options.signal?.aborted) throw options.signal.reason;
      for (const net of [nets.onebit, nets.fp]) gradientStep(net, xTrain, yTrain, lr);
    }
  } finally {
    for (const t of [xTrain, yTrain, xTest, yTest]) t.dispose();
    nets.onebit.dispose();
    nets.fp.dispose();
  }
  const n = parameterCount(config);
  return {
    config,
    parameters: n,
    compute: 6 * n * config.nTrain * config.steps,
    trajectory,
    final: trajectory[trajectory.length - 1],
    seconds: (performance.now() - started) / 1000,
    backend: T.defaultBackend().name,
  };
}

function gradientStep(net: TwoLayerNet, x: T.Tensor, y: T.Tensor, lr: number): void {
  const params = net.parameters();
  const next = T.tidy(() => {
    const grads = T.grad((...ps) => halfMse(net.forwardWith(ps, x), y), params);
    return params.map((p, i) => T.sub(p, T.affine(grads[i], lr)).keep());
  });
  for (const p of params) p.dispose();
  net.setParameters(next);
}

/** mean (f - y)^2 / 2: the loss gradient descent minimizes and the loss we report. */
function halfMse(f: T.Tensor, y: T.Tensor): T.Tensor {
  return T.affine(T.mean(T.square(T.sub(f, y))), 0.5);
}

function errorRate(f: T.Tensor, labels: Float32Array): number {
  const out = f.toArray();
  let wrong = 0;
  for (let i = 0; i < labels.length; i++) if ((out[i] >= 0 ? 1 : -1) !== labels[i]) wrong++;
  return wrong / labels.length;
}

function relativeDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let base = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    base += b[i] ** 2;
  }
  return Math.sqrt(diff / base);
}

function flippedFraction(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let flipped = 0;
  for (let i = 0; i < a.length; i++) if (a[i] >= 0 !== b[i] >= 0) flipped++;
  return flipped / a.length;
}
