// Runs run configs as one sweep of 'onebit-ntk' jobs through the sweep machinery: job files and the run
// store under <dir> (done runs are reused, so an interrupted experiment resumes), executed by local worker
// processes or, when workers would only compete for the cores, one after another in this process.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RunStore } from '../../store/run-store.ts';
import { type Job, makeJob } from '../../sweep/job.ts';
import { LocalExecutor } from '../../sweep/local-executor.ts';
import { planJobFile, planJobs } from '../../sweep/plan.ts';
import { jobKindsEnv } from '../../sweep/registry.ts';
import { runJobFile } from '../../sweep/run-job.ts';
import type { JsonObject } from '../../sweep/spec.ts';
import type { RunConfig } from './config.ts';
import { OnebitNtkError } from './errors.ts';
import { ONEBIT_NTK_JOB, onebitNtkJobKindsModule } from './job-kind.ts';
import type { RunResult } from './train-pair.ts';

export interface ExecutionSettings {
  executor: 'local' | 'in-process';
  workers: number;
}

const workerEntry = fileURLToPath(new URL('./worker.ts', import.meta.url));

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
  const plan = planJobs(name, jobs, { dir });
  if (execution.executor === 'local') {
    const executor = new LocalExecutor({
      entry: workerEntry,
      execArgv: ['--import', 'tsx'],
      env: { [jobKindsEnv]: onebitNtkJobKindsModule },
      maxWorkers: execution.workers,
      onProgress: (p) => log(`${name}: ${p.done}/${p.total} done, ${p.running} running, ${p.failed} failed`),
    });
    const report = await executor.execute(plan);
    if (report.failures.length > 0 || report.blocked.length > 0) {
      const why = [...report.failures, ...report.blocked].map((f) => `${f.id}: ${f.reason}`).join('; ');
      throw new OnebitNtkError(`sweep ${name}: ${why}`);
    }
  } else {
    for (const job of jobs) {
      const outcome = await runJobFile(planJobFile(plan, job), {
        storePath: plan.storePath,
        runsDir: plan.runsDir,
        echo: log,
      });
      if (outcome.outcome !== 'done' && outcome.outcome !== 'skipped') {
        throw new OnebitNtkError(`sweep ${name}: job ${job.id} ${outcome.outcome}: ${outcome.detail ?? ''}`);
      }
    }
  }
  const store = RunStore.open(plan.storePath);
  try {
    return new Map(
      jobs.map((job) => {
        const record = store.get(job.id);
        const artifact = record?.artifacts.find((a) => a.name === 'result');
        if (record?.status !== 'done' || !artifact) {
          throw new OnebitNtkError(
            `sweep ${name}: run ${job.id} is ${record?.status ?? 'missing'} without a result`,
          );
        }
        return [job.id, JSON.parse(readFileSync(artifact.path, 'utf8')) as RunResult];
      }),
    );
  } finally {
    store.close();
  }
}

function cost(job: Job): number {
  const c = job.config as unknown as RunConfig;
  return c.width * c.nTrain * c.steps;
}
