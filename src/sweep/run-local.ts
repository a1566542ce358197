// Runs a list of jobs as one sweep on this machine and hands back their finished runs: job files and the run
// store under <dir> (done runs are reused, so an interrupted sweep resumes), executed by local worker
// processes (`bitscale job`, which knows the built-in job kinds) or, when workers would only compete for the
// cores, one after another in this process with the runners the caller hands in. The glue an experiment needs
// between "here are my jobs" and "here are their results".

import { readFileSync } from 'node:fs';
import { type RunRecord, RunStore } from '../store/run-store.ts';
import { SweepError } from './errors.ts';
import type { Job } from './job.ts';
import type { JobKinds } from './job-kind.ts';
import { LocalExecutor } from './local-executor.ts';
import { planJobFile, planJobs } from './plan.ts';
import { runJobFile } from './run-job.ts';

export interface RunLocallyOptions {
  /** The sweep's directory (job files, run store, run directories). */
  dir: string;
  /** Upper bound on worker processes. */
  workers: number;
  /** Run the jobs here, one after another, instead of in worker processes (same store and job files). */
  inProcess?: boolean;
  /** The runners of the jobs' kinds, for running in process. */
  kinds: JobKinds;
  /** Modules of job kinds that are not built in, for the workers (--kinds). */
  kindModules?: string[];
  /** Extra environment for the workers. */
  env?: NodeJS.ProcessEnv;
  /** Progress lines and, in process, the jobs' log lines. */
  log?: (message: string) => void;
}

/** Runs the jobs (done runs are reused) and returns their finished run records, in the jobs' order. */
export async function runJobsLocally(
  name: string,
  jobs: Job[],
  options: RunLocallyOptions,
): Promise<RunRecord[]> {
  const log = options.log ?? (() => {});
  const plan = planJobs(name, jobs, { dir: options.dir });
  if (options.inProcess) {
    for (const job of jobs) {
      const outcome = await runJobFile(planJobFile(plan, job), {
        storePath: plan.storePath,
        runsDir: plan.runsDir,
        kinds: options.kinds,
        echo: log,
      });
      if (outcome.outcome !== 'done' && outcome.outcome !== 'skipped') {
        throw new SweepError(`sweep ${name}: job ${job.id} ${outcome.outcome}: ${outcome.detail ?? ''}`);
      }
    }
  } else {
    let lastLine = '';
    const executor = new LocalExecutor({
      env: options.env,
      kindModules: options.kindModules,
      maxWorkers: options.workers,
      onProgress: (p) => {
        const line = `${name}: ${p.done}/${p.total} done, ${p.running} running, ${p.failed} failed`;
        if (line !== lastLine) log((lastLine = line));
      },
    });
    const report = await executor.execute(plan);
    if (report.failures.length > 0 || report.blocked.length > 0) {
      const why = [...report.failures, ...report.blocked].map((f) => `${f.id}: ${f.reason}`).join('; ');
      throw new SweepError(`sweep ${name}: ${why}`);
    }
  }
  const store = RunStore.open(plan.storePath);
  try {
    return jobs.map((job) => {
      const record = store.get(job.id);
      if (record?.status !== 'done') {
        throw new SweepError(`sweep ${name}: run ${job.id} is ${record?.status ?? 'missing'}, not done`);
      }
      return record;
    });
  } finally {
    store.close();
  }
}

/** Reads a run's JSON artifact (e.g. the 'result' a job kind wrote). */
export function readJsonArtifact<T>(record: RunRecord, name: string): T {
  const artifact = record.artifacts.find((a) => a.name === name);
  if (!artifact) throw new SweepError(`run ${record.id} has no artifact ${JSON.stringify(name)}`);
  return JSON.parse(readFileSync(artifact.path, 'utf8')) as T;
}
