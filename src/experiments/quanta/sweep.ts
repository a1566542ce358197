// The width (N) and data (D) sweeps of the quanta study as jobs of kind 'quanta-train', run through the
// sweep machinery: job files and the run store under <dir>, executed by local worker processes (or
// in this process, one job after another, when workers would only compete for two cores).

import { type Job, makeJob } from '../../sweep/job.ts';
import { readJsonArtifact, runJobsLocally } from '../../sweep/run-local.ts';
import type { JsonObject } from '../../sweep/spec.ts';
import { QUANTA_TRAIN, runQuantaTrainJob } from './jobs.ts';
import type { QuantaRunConfig, QuantaRunResult } from './train.ts';

export interface ExecutionSettings {
  /** 'local': worker processes (LocalExecutor); 'in-process': sequentially here, same store and job files. */
  executor: 'local' | 'in-process';
  workers: number;
}

export interface SweepRun {
  job: Job;
  config: QuantaRunConfig;
  result: QuantaRunResult;
}

export function quantaJob(config: QuantaRunConfig): Job {
  return makeJob(QUANTA_TRAIN, config as unknown as JsonObject);
}

/** Runs the configs as one sweep (done runs are reused) and returns their results in input order. */
export async function runQuantaSweep(
  name: string,
  configs: readonly QuantaRunConfig[],
  dir: string,
  execution: ExecutionSettings,
  log: (message: string) => void = () => {},
): Promise<SweepRun[]> {
  const jobs = configs.map(quantaJob);
  const records = await runJobsLocally(name, jobs, {
    dir,
    workers: execution.workers,
    inProcess: execution.executor === 'in-process',
    kinds: { [QUANTA_TRAIN]: runQuantaTrainJob },
    log,
  });
  return records.map((record, i) => ({
    job: jobs[i],
    config: configs[i],
    result: readJsonArtifact<QuantaRunResult>(record, 'result'),
  }));
}
