// A sweep plan: the jobs of a spec written as job files and registered in the run store, ready for any
// executor. Layout under the sweep's directory:
//   bitscale.db   the run store (shareable by several sweeps)
//   jobs/<id>.json  one self-describing file per job
//   runs/<id>/      one directory per run (checkpoints, logs)

import { join, resolve } from 'node:path';
import { RunStore, type StoreOptions } from '../store/run-store.ts';
import { SweepError } from './errors.ts';
import { expandSweep } from './expand.ts';
import { type Job, jobFilePath, writeJobFile } from './job.ts';
import type { SweepSpec } from './spec.ts';

export interface SweepPlan {
  name: string;
  jobs: Job[];
  jobsDir: string;
  runsDir: string;
  storePath: string;
}

export interface PlanOptions {
  /** The sweep's directory. */
  dir: string;
  /** Default: <dir>/bitscale.db. */
  storePath?: string;
  journalMode?: StoreOptions['journalMode'];
}

export function planSweep(spec: SweepSpec, options: PlanOptions): SweepPlan {
  return planJobs(spec.name, expandSweep(spec), options);
}

/** Writes the job files and adds the jobs to the store; idempotent, so re-planning a sweep changes nothing. */
export function planJobs(name: string, jobs: Job[], options: PlanOptions): SweepPlan {
  const ids = new Set(jobs.map((j) => j.id));
  for (const job of jobs) {
    const missing = job.deps.find((d) => !ids.has(d));
    if (missing)
      throw new SweepError(`sweep ${name}: job ${job.id} depends on ${missing}, which is not in the sweep`);
  }
  const dir = resolve(options.dir);
  const plan: SweepPlan = {
    name,
    jobs,
    jobsDir: join(dir, 'jobs'),
    runsDir: join(dir, 'runs'),
    storePath: resolve(options.storePath ?? join(dir, 'bitscale.db')),
  };
  for (const job of jobs) writeJobFile(plan.jobsDir, job);
  const store = RunStore.open(plan.storePath, { journalMode: options.journalMode });
  try {
    store.addJobs(jobs, name);
  } finally {
    store.close();
  }
  return plan;
}

export function planJobFile(plan: SweepPlan, job: Job): string {
  return jobFilePath(plan.jobsDir, job.id);
}
