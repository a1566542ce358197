// The main job: a precision study from a sweep spec to a report. Plans the grid (train + PTQ jobs) into a run
// store, runs it on local worker processes or Slurm job arrays (finished runs are skipped, so re-running
// resumes), fits the laws, and writes analysis.json and the HTML report into the study folder.
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../base/atomic-write.ts';
import { RunStore } from '../store/run-store.ts';
import { type ExecutionReport, type Executor, emptyCounts } from '../sweep/executor.ts';
import type { TrainConfig } from '../sweep/expand.ts';
import { selectGpus } from '../sweep/gpus.ts';
import type { Job } from '../sweep/job.ts';
import { LocalExecutor } from '../sweep/local-executor.ts';
import { planSweep, type SweepPlan } from '../sweep/plan.ts';
import { SlurmExecutor, type SlurmExecutorOptions } from '../sweep/slurm-executor.ts';
import { loadSweepSpec } from '../sweep/spec.ts';
import { type AnalyzeOptions, analyzeStudy, type StudyAnalysis } from './analyze.ts';
import { checkBackends, gpuJobs } from './devices.ts';
import { measureThroughput, trainingFlops } from './estimate.ts';
import { onebitComparison } from './onebit-comparison.ts';
import { outlierReport } from './outliers.ts';
import { prepareStudyData } from './prepare-study-data.ts';
import { studyRows } from './rows.ts';
import { studyValidator } from './validator.ts';

export interface StudyOptions {
  /** Path of the sweep spec (YAML or JSON). */
  spec: string;
  /** The study folder: run store, job files, runs, analysis and report. */
  dir: string;
  coresPerJob?: number;
  /** Simultaneous CPU jobs (default: cores / coresPerJob). */
  maxWorkers?: number;
  /** GPUs for GPU jobs: '0,1', 'all' (default) or 'none'; checked against the visible ones. */
  gpus?: string;
  /** GPU jobs sharing one GPU at a time (default 1). */
  jobsPerGpu?: number;
  /** Minutes after which no new training run starts; started runs and their PTQ still finish, and a later
   *  invocation carries on (how a long study is split into shorter sessions). */
  timeLimitMinutes?: number;
  /** Submit the jobs as Slurm job arrays with these options instead of running them here. */
  slurm?: SlurmExecutorOptions;
  analysis?: Partial<AnalyzeOptions>;
  /** Writes the report; default none (the CLI writes the HTML report of src/report). */
  writeReport?: (analysis: StudyAnalysis, dir: string) => string;
}

export interface StudyResult {
  execution: ExecutionReport;
  analysis: StudyAnalysis;
  analysisPath: string;
  reportPath: string | null;
}

/** JSON with Infinity spelled out (precisions of unquantized models). */
export const studyJson = (value: unknown) =>
  JSON.stringify(value, (_, v) => (v === Number.POSITIVE_INFINITY ? 'Infinity' : v), 2);

export async function runStudy(options: StudyOptions): Promise<StudyResult> {
  const started = Date.now();
  const spec = loadSweepSpec(options.spec, studyValidator);
  const dir = resolve(options.dir);
  const plan = planSweep(spec, { dir });
  const cores = options.coresPerJob ?? 1;
  const env = { BITSCALE_THREADS: String(cores), BITSCALE_CACHE: join(dir, 'cache') };
  // Only unfinished jobs need a device and data: a finished study refits anywhere (a laptop, from the run
  // store a GPU host wrote).
  const unfinished = { ...plan, jobs: unfinishedJobs(plan) };
  let execution: ExecutionReport;
  let devices = 0; // the GPUs (or CPU job slots) the jobs of this invocation ran on
  if (unfinished.jobs.length === 0) {
    execution = finishedReport(plan);
  } else {
    let executor: Executor;
    if (options.slurm) {
      executor = new SlurmExecutor({
        cpusPerTask: cores,
        ...options.slurm,
        env: { ...env, ...options.slurm.env },
      });
    } else {
      const needsGpu = gpuJobs(plan);
      const gpus = unfinished.jobs.some(needsGpu) ? selectGpus(options.gpus) : [];
      checkBackends(unfinished, gpus);
      devices =
        gpus.length || (options.maxWorkers ?? Math.max(1, Math.floor(availableParallelism() / cores)));
      executor = new LocalExecutor({
        coresPerJob: cores,
        maxWorkers: options.maxWorkers,
        env,
        gpus,
        jobsPerGpu: options.jobsPerGpu,
        needsGpu,
        priority: (job) => (job.kind === 'train' ? trainingFlops(job.config as TrainConfig) : 0),
        startRootsUntil:
          options.timeLimitMinutes === undefined ? undefined : started + options.timeLimitMinutes * 60_000,
      });
    }
    await prepareStudyData(unfinished, env.BITSCALE_CACHE);
    execution = await executor.execute(plan);
  }
  const store = RunStore.open(plan.storePath);
  let records: ReturnType<RunStore['list']>;
  try {
    records = store.list({ sweep: spec.name });
  } finally {
    store.close();
  }
  const analysis = analyzeStudy(studyRows(records), {
    bootstrap: 100,
    seed: 0,
    holdout: 0.2,
    ...options.analysis,
  });
  const onebit = onebitComparison(records);
  if (onebit) analysis.onebit = onebit;
  const outliers = outlierReport(records);
  if (outliers) analysis.outliers = outliers;
  const analysisPath = join(dir, 'analysis.json');
  writeFileAtomic(analysisPath, `${studyJson(analysis)}\n`);
  // Throughput is measured where jobs ran now (a refit elsewhere keeps the file the run wrote).
  const throughput = devices > 0 ? measureThroughput(records, devices) : null;
  if (throughput) writeFileAtomic(join(dir, 'throughput.json'), `${JSON.stringify(throughput, null, 2)}\n`);
  const reportPath = options.writeReport ? options.writeReport(analysis, dir) : null;
  return { execution, analysis, analysisPath, reportPath };
}

const isFinished = (status: string | undefined) => status === 'done' || status === 'diverged';

function unfinishedJobs(plan: SweepPlan): Job[] {
  const store = RunStore.open(plan.storePath);
  try {
    return plan.jobs.filter((j) => !isFinished(store.get(j.id)?.status));
  } finally {
    store.close();
  }
}

/** The execution report of a study whose jobs all finished earlier. */
function finishedReport(plan: SweepPlan): ExecutionReport {
  const store = RunStore.open(plan.storePath);
  try {
    const counts = emptyCounts();
    for (const job of plan.jobs) counts[store.get(job.id)!.status]++;
    return { counts, failures: [], blocked: [] };
  } finally {
    store.close();
  }
}
