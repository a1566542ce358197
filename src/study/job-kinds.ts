// The precision study's job kinds, plugged into the sweep machinery: 'train' runs one language model at its
// training precision; 'ptq' quantizes a finished training run at one (P_post, method) and measures delta_PTQ;
// 'onebit-distill' distills a OneBit student from a finished full-precision training run.
// src/jobs/builtin.ts maps the kind names to these runners.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { precisionBits } from '../numerics/precision.ts';
import {
  distillOnebit,
  ONEBIT_RESULT_FILE,
  type OnebitDistillResult,
  PACKED_STUDENT_FILE,
} from '../onebit/distill-run.ts';
import { checkStudentInit, checkStudentLoss } from '../onebit/student.ts';
import { evaluatePtq } from '../ptq/evaluate-ptq.ts';
import type { PtqMethod } from '../ptq/quantize-model.ts';
import { parsePtqSettings } from '../ptq/settings.ts';
import type { OnebitDistillConfig, PtqConfig, TrainConfig } from '../sweep/expand.ts';
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

/** The finished training run a job depends on, by its checkpoint artifact's folder. */
function sourceRun(ctx: Parameters<JobRunner>[1], id: string, kind: string) {
  const source = ctx.deps[id];
  const checkpoint = source?.artifacts.find((a) => a.name === 'checkpoint');
  if (!checkpoint) throw new Error(`${kind}: training run ${id} has no checkpoint artifact`);
  return { record: source, dir: dirname(checkpoint.path) };
}

/** Kind 'onebit-distill': a OneBit student of a finished full-precision run, with its packed file. */
export const runOnebitDistillJob: JobRunner = async (raw, ctx) => {
  const job = raw as OnebitDistillConfig;
  const teacher = sourceRun(ctx, job.teacher, 'onebit-distill');
  const backend = studyBackend(teacher.record.config as TrainConfig);
  let lastReport = 0;
  const result: OnebitDistillResult = distillOnebit({
    teacher: teacher.dir,
    outDir: ctx.runDir,
    tokens: job.tokens,
    init: checkStudentInit(job.init, 'onebit-distill.init'),
    loss: checkStudentLoss(job.loss, 'onebit-distill.loss'),
    train: job.train,
    distill: job.distill,
    backend,
    cacheDir: process.env.BITSCALE_CACHE,
    onProgress: (p) => {
      if (Date.now() - lastReport > 1000 || p.step === p.steps) {
        lastReport = Date.now();
        ctx.progress(p.step / p.steps, `student step ${p.step}/${p.steps} loss ${p.loss.toFixed(3)}`);
      }
    },
  });
  const { student, summary } = result;
  const metrics: JsonObject = {
    valLoss: student.valLoss,
    trainLoss: summary.trainLoss,
    teacherValLoss: result.teacher.valLoss,
    retention: result.retention?.gainKept ?? null,
    perplexityRatio: result.retention?.perplexityRatio ?? null,
    N: summary.nonEmbeddingParams,
    totalParams: summary.totalParams,
    D: student.tokens,
    teacherD: (teacher.record.metrics as JsonObject).D ?? null,
    init: student.init,
    loss: student.loss,
    svidRelativeError: student.svidRelativeError,
    bitsPerParameter: result.packed?.bitsPerParameter ?? null,
    linearBitsPerWeight: result.packed?.linearBitsPerWeight ?? null,
    packedBits: result.packed?.totalBits ?? null,
    vocabSize: result.vocabSize,
    steps: summary.steps,
    tokensPerSecond: summary.tokensPerSecond,
    wallSeconds: summary.wallSeconds,
  };
  if (summary.divergedAtStep !== undefined) metrics.divergedAtStep = summary.divergedAtStep;
  const files = {
    checkpoint: 'checkpoint.safetensors',
    config: 'config.json',
    metrics: 'metrics.jsonl',
    onebit: ONEBIT_RESULT_FILE,
    packed: result.packed ? PACKED_STUDENT_FILE : '',
  };
  return {
    status: summary.status === 'diverged' ? 'diverged' : 'done',
    metrics,
    artifacts: Object.fromEntries(
      Object.entries(files)
        .filter(([, file]) => file !== '')
        .map(([name, file]) => [name, join(ctx.runDir, file)])
        .filter(([, path]) => existsSync(path)),
    ),
  };
};
