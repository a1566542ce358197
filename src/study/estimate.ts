// What a study will cost before it runs (`bitscale study --dry-run`): its jobs and their GPU- or CPU-hours,
// from throughput measured on finished runs. A training run's time is modelled as a fixed start-up cost plus
// its training FLOPs at a measured rate (least squares over the measured runs); a PTQ job as the mean
// measured PTQ job. Runs that shared a device (several jobs per GPU) are charged their share of it: a run's
// device time is its wall time divided by the jobs on its device, averaged over its life, with the jobs
// running at each moment taken as spread evenly over the devices. Formats run at different speeds (FP8 on its
// tensor cores, fake quantization's extra passes, fp16 against bf16), so the rate is also measured per compute
// format (weights, activations, KV cache, dtype) and a job of a measured format is charged at its own rate.
import { parameterCount } from '../nn/config.ts';
import type { RunRecord } from '../store/run-store.ts';
import { ONEBIT_DISTILL, type OnebitDistillConfig, type TrainConfig } from '../sweep/expand.ts';
import type { Job } from '../sweep/job.ts';
import { runConfigFromJob } from './run-config.ts';

export interface Throughput {
  /** Seconds a training job costs besides its FLOPs (process start, data, evaluation, checkpoint). */
  overheadSeconds: number;
  /** Training FLOPs per second. */
  flopsPerSecond: number;
  /** Mean wall time of a PTQ job. */
  ptqSeconds: number;
  /** How many runs these come from. */
  trainRuns: number;
  ptqRuns: number;
  /** Devices the measured runs shared (GPUs, or CPU job slots). */
  devices: number;
  /** Training FLOPs per second per compute format (formatKey), with the overhead above; absent in older files. */
  byFormat?: Record<string, { flopsPerSecond: number; runs: number }>;
}

/** The compute format of a training job: what decides its speed per FLOP besides the model's shape. */
export function formatKey(job: TrainConfig): string {
  const { model, train } = runConfigFromJob(job);
  const p = model.precision;
  return `w=${p.weights} a=${p.activations} kv=${p.kv} dtype=${train.dtype ?? 'fp32'}`;
}

/** Training FLOPs of one run: 6 N D for the weights plus 6 L T d D for attention scores (Kaplan et al.). */
export function trainingFlops(job: TrainConfig): number {
  const { model } = runConfigFromJob(job);
  const n = parameterCount(model).total;
  return 6 * n * job.tokens + 6 * model.nLayers * model.context * model.dModel * job.tokens;
}

/** Throughput measured on a study's finished runs on `devices` GPUs (or CPU slots); null without a
 *  training run. */
export function measureThroughput(records: RunRecord[], devices = 1): Throughput | null {
  const timed = records.filter(
    (r) => r.status === 'done' && r.startedAt !== null && r.finishedAt !== null && r.finishedAt > r.startedAt,
  );
  const train = timed.filter((r) => r.kind === 'train');
  if (train.length === 0) return null;
  const share = deviceShare(timed, devices);
  const xs = train.map((r) => trainingFlops(r.config as TrainConfig));
  const ys = train.map((r) => share(r));
  const mx = mean(xs);
  const my = mean(ys);
  const sxx = xs.reduce((s, x) => s + (x - mx) ** 2, 0);
  const sxy = xs.reduce((s, x, i) => s + (x - mx) * (ys[i] - my), 0);
  // With one distinct size (or a fit that says bigger runs are faster) there is no overhead to separate.
  let slope = sxx > 0 ? sxy / sxx : 0;
  let intercept = my - slope * mx;
  if (slope <= 0 || intercept < 0) {
    slope = ys.reduce((a, b) => a + b, 0) / xs.reduce((a, b) => a + b, 0);
    intercept = 0;
  }
  // Per format: the FLOPs over the device seconds left after the shared start-up cost.
  const groups = new Map<string, { flops: number; seconds: number; runs: number }>();
  train.forEach((r, i) => {
    const key = formatKey(r.config as TrainConfig);
    const g = groups.get(key) ?? { flops: 0, seconds: 0, runs: 0 };
    g.flops += xs[i];
    g.seconds += Math.max(ys[i] - intercept, 0);
    g.runs += 1;
    groups.set(key, g);
  });
  const byFormat = Object.fromEntries(
    [...groups]
      .filter(([, g]) => g.seconds > 0)
      .map(([key, g]) => [key, { flopsPerSecond: g.flops / g.seconds, runs: g.runs }]),
  );
  const ptq = timed.filter((r) => r.kind === 'ptq');
  return {
    overheadSeconds: intercept,
    flopsPerSecond: 1 / slope,
    ptqSeconds: ptq.length ? mean(ptq.map(share)) : 0,
    trainRuns: train.length,
    ptqRuns: ptq.length,
    devices,
    byFormat,
  };
}

/** Device seconds of each run: its wall seconds, each moment divided by the jobs sharing its device then. */
function deviceShare(runs: RunRecord[], devices: number): (r: RunRecord) => number {
  const spans = runs.map((r) => [r.startedAt!, r.finishedAt!] as const);
  const running = (t: number) => spans.reduce((n, [a, b]) => n + (a <= t && t < b ? 1 : 0), 0);
  return (r) => {
    const [a, b] = [r.startedAt!, r.finishedAt!];
    const samples = 64;
    let share = 0;
    for (let i = 0; i < samples; i++) {
      const t = a + ((i + 0.5) / samples) * (b - a);
      share += 1 / Math.max(1, running(t) / devices);
    }
    return ((share / samples) * (b - a)) / 1000;
  };
}

export interface StudyEstimate {
  trainJobs: number;
  ptqJobs: number;
  /** OneBit students distilled from a teacher run. */
  distillJobs: number;
  otherJobs: number;
  /** Device-hours for all jobs, one job per device at a time. */
  hours: number;
  trainHours: number;
  ptqHours: number;
  distillHours: number;
  /** The largest training run's estimated hours. */
  longestRunHours: number;
  /** Training jobs charged at their own format's measured rate (the rest at the rate of all runs). */
  trainJobsAtFormatRate: number;
}

export function estimateJobs(jobs: Job[], throughput: Throughput): StudyEstimate {
  // A job of a measured format at that format's rate, any other at the rate of all runs together.
  const rateOf = (job: TrainConfig) =>
    throughput.byFormat?.[formatKey(job)]?.flopsPerSecond ?? throughput.flopsPerSecond;
  const seconds = (job: TrainConfig, flops = trainingFlops(job)) =>
    throughput.overheadSeconds + flops / rateOf(job);
  const trainJobs = jobs.filter((j) => j.kind === 'train').map((j) => j.config as TrainConfig);
  const trainSeconds = trainJobs.map((c) => seconds(c));
  const atFormatRate = trainJobs.filter((c) => throughput.byFormat?.[formatKey(c)] !== undefined).length;
  // A student has its teacher's shape; each step adds the teacher's forward (2 N D) to the student's 6 N D.
  const byId = new Map(jobs.map((j) => [j.id, j]));
  const distillSeconds = jobs
    .filter((j) => j.kind === ONEBIT_DISTILL)
    .flatMap((j) => {
      const { teacher, tokens } = j.config as OnebitDistillConfig;
      const t = byId.get(teacher);
      if (t?.kind !== 'train') return [];
      const shape = { ...(t.config as TrainConfig), tokens };
      return [seconds(shape, (trainingFlops(shape) * 8) / 6)];
    });
  const ptqJobs = jobs.filter((j) => j.kind === 'ptq').length;
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const trainHours = sum(trainSeconds) / 3600;
  const ptqHours = (ptqJobs * throughput.ptqSeconds) / 3600;
  const distillHours = sum(distillSeconds) / 3600;
  return {
    trainJobs: trainSeconds.length,
    ptqJobs,
    distillJobs: distillSeconds.length,
    otherJobs: jobs.length - trainSeconds.length - ptqJobs - distillSeconds.length,
    hours: trainHours + ptqHours + distillHours,
    trainHours,
    ptqHours,
    distillHours,
    longestRunHours: Math.max(0, ...trainSeconds, ...distillSeconds) / 3600,
    trainJobsAtFormatRate: atFormatRate,
  };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
