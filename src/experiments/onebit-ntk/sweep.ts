// Runs run configs as one sweep of 'onebit-ntk' jobs through the sweep machinery: job files and the run
// store under <dir> (done runs are reused, so an interrupted experiment resumes), executed by local worker
// processes or, when workers would only compete for the cores, one after another in this process.

import { type Job, makeJob } from '../../sweep/job.ts';
import { readJsonArtifact, runJobsLocally } from '../../sweep/run-local.ts';
import type { JsonObject } from '../../sweep/spec.ts';
import type { RunConfig } from './config.ts';
import { ONEBIT_NTK_JOB, runOnebitNtkJob } from './job-kind.ts';
import type { RunResult } from './train-pair.ts';

export interface ExecutionSettings {
  executor: 'local' | 'in-process';
  workers: number;
}

export function onebitNtkJob(config: RunConfig): Job {
  return makeJob(ONEBIT_NTK_JOB, config as unknown as JsonObject);
}

/** Runs the configs (deduplicated) and returns each one's result, keyed by job id. */
export async function runOnebitNtkSweep(
  name: string,
  configs: readonly RunConfig[],
  dir: string,
  execution: ExecutionSettings,
  log: (message: string) => void = () => {},
): Promise<Map<string, RunResult>> {
  const jobs = [...new Map(configs.map((c) => [onebitNtkJob(c).id, onebitNtkJob(c)])).values()];
  // Widest first: the longest jobs start early, so workers finish together.
  jobs.sort((a, b) => cost(b) - cost(a));
  const records = await runJobsLocally(name, jobs, {
    dir,
    workers: execution.workers,
    inProcess: execution.executor === 'in-process',
    kinds: { [ONEBIT_NTK_JOB]: runOnebitNtkJob },
    log,
  });
  return new Map(records.map((record) => [record.id, readJsonArtifact<RunResult>(record, 'result')]));
}

function cost(job: Job): number {
  const c = job.config as unknown as RunConfig;
  return c.width * c.nTrain * c.steps;
}
