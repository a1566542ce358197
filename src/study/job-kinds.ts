// The precision study's two job kinds, plugged into the sweep machinery: 'train' runs one language model at its
// training precision; 'ptq' quantizes a finished training run at one (P_post, method) and measures delta_PTQ.
// src/jobs/builtin.ts maps the kind names to these runners.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { precisionBits } from '../numerics/precision.ts';
import { evaluatePtq } from '../ptq/evaluate-ptq.ts';
import type { PtqMethod } from '../ptq/quantize-model.ts';
import { parsePtqSettings } from '../ptq/settings.ts';
import type { PtqConfig, TrainConfig } from '../sweep/expand.ts';
import type { JobRunner } from '../sweep/job-kind.ts';
import type { JsonObject } from '../sweep/spec.ts';
import { train } from '../train/trainer.ts';
import { runConfigFromJob, studyBackend } from './run-config.ts';

/** Kind 'train': one language model at its training precision. */
export const runTrainJob: JobRunner = async (raw, ctx) => {
  const job = raw as TrainConfig;
  const config = runConfigFromJob(job);
  let lastReport = 0;
  const summary = train(config, {
    outDir: ctx.runDir,
    backend: studyBackend(job),
    cacheDir: process.env.BITSCALE_CACHE,
    bigram: false,
    onProgress: (p) => {
      // Progress also renews the job's claim; a few times a second is plenty.
      if (Date.now() - lastReport > 1000 || p.step === p.steps) {
        lastReport = Date.now();
        ctx.progress(p.step / p.steps, `step ${p.step}/${p.steps} loss ${p.loss.toFixed(3)}`);
      }
    },
  });
  const metrics: JsonObject = {
    valLoss: summary.valLoss,
    trainLoss: summary.trainLoss,
    N: summary.nonEmbeddingParams,
    totalParams: summary.totalParams,
    D: summary.tokens,
    Pw: precisionBits(config.model.precision.weights),
    Pa: precisionBits(config.model.precision.activations),
    Pkv: precisionBits(config.model.precision.kv),
    steps: summary.steps,
    tokensPerSecond: summary.tokensPerSecond,
    wallSeconds: summary.wallSeconds,
  };
  if (summary.divergedAtStep !== undefined) metrics.divergedAtStep = summary.divergedAtStep;
  // The recipe's numerics and what the run's activations and weights look like at the end (Ahmadian et al.).
  metrics.dtype = summary.dtype;
  if (summary.overflowSteps !== undefined) metrics.overflowSteps = summary.overflowSteps;
  if (summary.outliers) Object.assign(metrics, summary.outliers);
  return {
    status: summary.status === 'diverged' ? 'diverged' : 'done',
    metrics,
    // A run that diverged before its first checkpoint has none to record.
    artifacts: Object.fromEntries(
      Object.entries({
        checkpoint: 'checkpoint.safetensors',
        config: 'config.json',
        metrics: 'metrics.jsonl',
      })
        .map(([name, file]) => [name, join(ctx.runDir, file)])
        .filter(([, path]) => existsSync(path)),
    ),
  };
};

/** Kind 'ptq': quantizes a finished training run and measures delta_PTQ. */
export const runPtqJob: JobRunner = async (raw, ctx) => {
  const job = raw as PtqConfig;
  const source = ctx.deps[job.source];
  const checkpoint = source?.artifacts.find((a) => a.name === 'checkpoint');
  if (!checkpoint) throw new Error(`ptq: training run ${job.source} has no checkpoint artifact`);
  const settings = parsePtqSettings(job.settings, 'ptq.settings.'); // snake_case keys as well
  // Calibration, GPTQ and evaluation run where the model was trained (the training job's backend).
  const backend = studyBackend(source.config as TrainConfig);
  const acts =
    typeof job.activations === 'string' ? ` a ${job.activations}${job.decompose ? ' + LLM.int8' : ''}` : '';
  ctx.progress(0, `${job.method} ${job.precision}${acts} on ${backend ?? 'the default backend'}`);
  const result = evaluatePtq(
    dirname(checkpoint.path),
    {
      format: job.precision,
      method: job.method as PtqMethod,
      groupSize: settings.groupSize,
      calibrationTokens: settings.calibrationTokens,
      activations: typeof job.activations === 'string' ? job.activations : 'fp32',
      decompose: job.decompose === true,
      outlierThreshold: settings.outlierThreshold,
    },
    { backend, cacheDir: process.env.BITSCALE_CACHE, evalTokens: settings.evalTokens },
  );
  return {
    metrics: { ...source.metrics, Ppost: precisionBits(job.precision), ptqFormat: job.precision, ...result },
    artifacts: {},
  };
};
