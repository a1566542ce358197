// Trains one language model run end to end: data, model, AdamW with warmup + cosine, validation, metrics
// (JSONL), atomic checkpoints, resume, and divergence detection. Everything a run leaves is in its folder:
//   config.json  checkpoint.safetensors  metrics.jsonl  summary.json  tokenizer.json
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../base/atomic-write.ts';
import {
  BatchSampler,
  bigramBaseline,
  type PreparedData,
  prepareData,
  saveTokenizer,
} from '../data/index.ts';
import '../backends/index.ts';
import { ConfigError, parameterCount } from '../nn/config.ts';
import { type LinearComputePath, planLinearCompute } from '../nn/low-precision.ts';
import {
  type ActivationStats,
  LinearInputStats,
  type OutlierSummary,
  summarizeOutliers,
  type WeightStats,
  weightStats,
} from '../nn/outliers.ts';
import { type ForwardOptions, initParams, lossOf, type Params } from '../nn/transformer.ts';
import * as T from '../tensor/index.ts';
import { AdamW, learningRate } from './adamw.ts';
import { hasCheckpoint, loadCheckpoint, saveCheckpoint } from './checkpoint.ts';
import { dtypeProblem, matmulModeOf, productsRoundTo, roundingOf, withMatmulMode } from './compute-dtype.ts';
import { criterionOf, type RunConfig, stepsOf } from './config.ts';
import { activationStats, evaluate } from './evaluate.ts';
import { defaultLossScale, LossScaler } from './loss-scale.ts';

export interface Progress {
  step: number;
  steps: number;
  loss: number;
  tokensPerSecond: number;
  etaSeconds: number;
  valLoss?: number;
}

export interface TrainOptions {
  outDir: string;
  /** Backend name (default: the engine's default). */
  backend?: string;
  onProgress?: (p: Progress) => void;
  /** Reuse prepared data (sweeps prepare it once). */
  data?: PreparedData;
  cacheDir?: string;
  /** Stop after this many steps as if interrupted (tests of resume). */
  stopAfterStep?: number;
  /** Compute the bigram baseline on the same tokens for the summary. */
  bigram?: boolean;
  /** Start from these weights (a safetensors file of every parameter) instead of a fresh initialization. */
  initFrom?: string;
  /** What to minimize instead of the model's cross-entropy (OneBit's distillation); validation stays CE. */
  objective?: TrainObjective;
}

/** A training objective other than next-token cross-entropy, with its own starting point. */
export interface TrainObjective {
  /** Names the objective in the checkpoint's hash: a run resumes only under the same objective. */
  id: string;
  /** Sets the starting parameters of a fresh run (a checkpoint, when there is one, replaces them). */
  init?(params: Params): void;
  /** The loss of one batch, inputs and targets i32 (B, T); backward of it fills the gradients. */
  loss(params: Params, inputs: T.Tensor, targets: T.Tensor, forward: ForwardOptions): T.Tensor;
}

export interface TrainSummary {
  status: 'done' | 'diverged' | 'stopped';
  steps: number;
  tokens: number;
  valLoss: number | null;
  trainLoss: number | null;
  divergedAtStep?: number;
  nonEmbeddingParams: number;
  totalParams: number;
  bigramValLoss?: number;
  tokensPerSecond: number;
  wallSeconds: number;
  backend: string;
  /** Compute dtype the run trained in. */
  dtype: string;
  /** cuda: the matmul mode the run computed in (bf16, fp16, tf32, fp32), the operand type of matmuls and attention. */
  matmulMode?: string;
  /** The path the linear layers' precision was computed on (FP8 tensor cores or fake quantization). */
  linearCompute?: LinearComputePath;
  /** fp16: steps whose gradients overflowed and were skipped (over the whole run, resumes included). */
  overflowSteps?: number;
  lossScale?: number;
  /** Activation statistics on a validation batch and weight statistics, at the end of training. */
  outliers?: OutlierSummary;
  activationStats?: ActivationStats;
  weightStats?: WeightStats[];
}

/** Validation tokens that evaluate() scores: whole windows of `context` tokens. */
const evaluatedTokens = (available: number, limit: number, context: number) =>
  Math.floor(Math.min(limit, available - 1) / context) * context;

export const configHash = (c: RunConfig) =>
  createHash('sha256').update(canonicalJson(c)).digest('hex').slice(0, 16);

export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

interface MetricRow {
  step: number;
  loss?: number;
  lr?: number;
  gradNorm?: number;
  tokensPerSecond?: number;
  valLoss?: number;
  /** fp16: the loss scale the step used, and whether its gradients overflowed (the step was skipped). */
  lossScale?: number;
  skipped?: boolean;
  /** Sampled steps (train.statsEvery): the training batch's activation and the weights' statistics. */
  stats?: { activations: ActivationStats; weights: WeightStats[] };
}

/** Metric rows before `step` (what a resumed run keeps of its history). */
function keepMetricsBefore(path: string, step: number): MetricRow[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as MetricRow)
    .filter((row) => row.step < step || (row.step === step && row.loss === undefined));
}

export function train(config: RunConfig, options: TrainOptions): TrainSummary {
  const started = performance.now();
  const backend = options.backend ? T.setDefaultBackend(options.backend) : T.defaultBackend();
  const data = options.data ?? prepareData({ ...config.data, cacheDir: options.cacheDir });
  const opt = config.train;
  const problem = dtypeProblem(opt.dtype ?? 'fp32', backend.name);
  if (problem) throw new ConfigError('train.dtype', problem);
  // An explicit dtype sets a backend's matmul mode where it has one (cuda), for this run only.
  return withMatmulMode(backend, opt.dtype, () => trainWith(config, options, backend, data, started));
}

function trainWith(
  config: RunConfig,
  options: TrainOptions,
  backend: T.Tensor['backend'],
  data: PreparedData,
  started: number,
): TrainSummary {
  const { model, train: opt } = config;
  const dtype = opt.dtype ?? 'fp32';
  const compute = roundingOf(dtype);
  const productsRound = productsRoundTo(backend, compute); // the matmul mode is set by now (withMatmulMode)
  const linearCompute = planLinearCompute(
    model,
    opt.lowPrecisionCompute ?? 'auto',
    backend,
    opt.batchSize * model.context,
  );
  const fp8Linear = linearCompute.path === 'native-fp8';
  const criterion = criterionOf(opt);
  const steps = stepsOf(config);
  const hash = options.objective
    ? createHash('sha256')
        .update(canonicalJson({ config, objective: options.objective.id }))
        .digest('hex')
        .slice(0, 16)
    : configHash(config);
  const dir = options.outDir;
  const paths = {
    config: join(dir, 'config.json'),
    checkpoint: join(dir, 'checkpoint.safetensors'),
    metrics: join(dir, 'metrics.jsonl'),
    summary: join(dir, 'summary.json'),
    tokenizer: join(dir, 'tokenizer.json'),
  };
  writeFileAtomic(paths.config, `${JSON.stringify(config, null, 2)}\n`);
  if (data.tokenizer && !existsSync(paths.tokenizer)) saveTokenizer(data.tokenizer, paths.tokenizer);

  const params = initParams(model, opt.seed);
  if (options.initFrom && !hasCheckpoint(paths.checkpoint)) loadCheckpoint(options.initFrom, params, null);
  options.objective?.init?.(params);
  const optimizer = new AdamW(params, opt);
  let startStep = 0;
  if (hasCheckpoint(paths.checkpoint)) {
    const state = loadCheckpoint(paths.checkpoint, params, optimizer);
    if (state.configHash !== hash)
      throw new Error(`${paths.checkpoint} belongs to another config (${state.configHash}, this is ${hash})`);
    startStep = state.step;
  }
  const metrics = keepMetricsBefore(paths.metrics, startStep);
  // fp16: dynamic loss scaling, resumed from the last scale the metrics recorded.
  const lastScale = [...metrics].reverse().find((m) => m.lossScale !== undefined)?.lossScale;
  const scaler =
    dtype === 'fp16'
      ? new LossScaler({
          initial: lastScale ?? opt.lossScale ?? defaultLossScale.initial,
          window: opt.lossScaleWindow ?? defaultLossScale.window,
        })
      : null;
  const writeMetrics = () =>
    writeFileAtomic(paths.metrics, metrics.map((m) => `${JSON.stringify(m)}\n`).join(''));

  const sampler = new BatchSampler(data.train, opt.batchSize, model.context, opt.seed);
  const tokensPerStep = opt.batchSize * model.context;
  const evalNow = () => evaluate(model, params, data.val, opt.batchSize, opt.evalTokens);
  let status: TrainSummary['status'] = 'done';
  let divergedAtStep: number | undefined;
  let lastLoss: number | null = null;
  let valLoss: number | null = null;
  let timedTokens = 0;
  const loopStart = performance.now();

  for (let step = startStep; step < steps; step++) {
    if (options.stopAfterStep !== undefined && step >= options.stopAfterStep) {
      status = 'stopped';
      break;
    }
    T.manualSeed(opt.seed * 1_000_003 + step); // dropout masks are a function of (seed, step): resumable
    const batch = sampler.batch(step);
    const sampled = (opt.statsEvery ?? 0) > 0 && step % (opt.statsEvery ?? 1) === 0;
    const collector = sampled ? new LinearInputStats(criterion) : null;
    const lossScale = scaler?.scale ?? 1;
    const loss = T.tidy(() => {
      const inputs = T.tensor(batch.inputs, [opt.batchSize, model.context], { dtype: 'i32', backend });
      const targets = T.tensor(batch.targets, [opt.batchSize, model.context], { dtype: 'i32', backend });
      const forwardOptions: ForwardOptions = {
        train: true,
        compute,
        productsRound,
        fp8Linear,
        onLinearInput: collector?.observe,
      };
      const l = options.objective
        ? options.objective.loss(params, inputs, targets, forwardOptions)
        : lossOf(model, params, inputs, targets, forwardOptions);
      T.backward(l, scaler ? T.scalar(lossScale, { backend }) : undefined);
      return l.item();
    });
    const stats = collector?.readWith(params); // one read: activations and weights
    // A non-finite loss, or a non-finite gradient that would poison the weights, ends the run as diverged;
    // under fp16 an overflowing gradient (finite loss) is the loss scale's to handle: the step is skipped.
    const scaledNorm = Number.isFinite(loss) ? optimizer.gradNorm() : Number.NaN;
    const skipped = scaler !== null && Number.isFinite(loss) && !scaler.update(scaledNorm);
    const gradNorm = scaledNorm / lossScale;
    if (!skipped && !Number.isFinite(gradNorm)) {
      status = 'diverged';
      divergedAtStep = step;
      optimizer.zeroGrad();
      metrics.push({ step, loss });
      break;
    }
    const lr = learningRate(step, opt.lr, opt.warmupSteps, steps, opt.minLrRatio);
    if (skipped) optimizer.zeroGrad();
    else {
      optimizer.update(lr, gradNorm, lossScale);
      lastLoss = loss;
    }
    timedTokens += tokensPerStep;
    const elapsed = (performance.now() - loopStart) / 1000;
    const tokensPerSecond = timedTokens / Math.max(elapsed, 1e-9);
    const row: MetricRow = skipped
      ? { step, loss, lossScale, skipped, tokensPerSecond }
      : { step, loss, lr, gradNorm, tokensPerSecond };
    if (scaler && !skipped) row.lossScale = lossScale;
    if (stats) row.stats = stats;
    const last = step === steps - 1;
    if (last || (opt.evalEvery > 0 && (step + 1) % opt.evalEvery === 0)) row.valLoss = valLoss = evalNow();
    metrics.push(row);
    options.onProgress?.({
      step: step + 1,
      steps,
      loss,
      tokensPerSecond,
      etaSeconds: ((steps - step - 1) * tokensPerStep) / tokensPerSecond,
      valLoss: row.valLoss,
    });
    if (last || (opt.checkpointEvery > 0 && (step + 1) % opt.checkpointEvery === 0)) {
      // Metrics first: a crash between the two leaves metrics ahead of the checkpoint, which resume trims.
      writeMetrics();
      saveCheckpoint(paths.checkpoint, params, optimizer, { step: step + 1, configHash: hash });
    }
  }
  writeMetrics();
  const counts = parameterCount(model);
  // The statistics a run table carries: one validation batch in evaluation mode, and the weights.
  const finalStats =
    status === 'done'
      ? {
          activationStats: activationStats(model, params, data.val, opt.batchSize, criterion),
          weightStats: weightStats(params),
        }
      : null;
  const matmulMode = matmulModeOf(backend);
  const summary: TrainSummary = {
    status,
    steps,
    tokens: steps * tokensPerStep,
    valLoss,
    trainLoss: lastLoss,
    divergedAtStep,
    nonEmbeddingParams: counts.nonEmbedding,
    totalParams: counts.total,
    // The bigram is scored on exactly the targets evaluate() sees: whole windows of T tokens.
    bigramValLoss: options.bigram
      ? bigramBaseline(
          data.train,
          data.val.subarray(0, evaluatedTokens(data.val.length, opt.evalTokens, model.context) + 1),
          data.vocabSize,
        ).crossEntropy
      : undefined,
    tokensPerSecond: timedTokens / Math.max((performance.now() - loopStart) / 1000, 1e-9),
    wallSeconds: (performance.now() - started) / 1000,
    backend: backend.name,
    dtype,
    ...(matmulMode ? { matmulMode } : {}),
    linearCompute,
    ...(scaler ? { overflowSteps: metrics.filter((m) => m.skipped).length, lossScale: scaler.scale } : {}),
    ...(finalStats
      ? { outliers: summarizeOutliers(finalStats.activationStats, finalStats.weightStats), ...finalStats }
      : {}),
  };
  if (status !== 'stopped') writeFileAtomic(paths.summary, `${JSON.stringify(summary, null, 2)}\n`);
  for (const p of params.values()) p.dispose();
  for (const t of [...optimizer.m.values(), ...optimizer.v.values()]) t.dispose();
  return summary;
}
