// The width (N) and data (D) sweeps of the quanta study as jobs of kind 'quanta-train', run through the
// sweep machinery: job files and the run store under <dir>, executed by local worker processes (or
// in this process, one job after another, when workers would only compete for two cores).

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RunStore } from '../../store/run-store.ts';
import { type Job, makeJob } from '../../sweep/job.ts';
import { LocalExecutor } from '../../sweep/local-executor.ts';
import { planJobFile, planJobs } from '../../sweep/plan.ts';
import { jobKindsEnv } from '../../sweep/registry.ts';
import { runJobFile } from '../../sweep/run-job.ts';
import type { JsonObject } from '../../sweep/spec.ts';
import { QuantaError } from './errors.ts';
import { QUANTA_TRAIN, quantaJobKindsModule } from './jobs.ts';
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

const workerEntry = fileURLToPath(new URL('./worker.ts', import.meta.url));

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
  const plan = planJobs(name, jobs, { dir });
  if (execution.executor === 'local') {
    let lastLine = '';
    const executor = new LocalExecutor({
      entry: workerEntry,
      execArgv: ['--import', 'tsx'],
      env: { [jobKindsEnv]: quantaJobKindsModule },
      maxWorkers: execution.workers,
      onProgress: (p) => {
        const line = `${name}: ${p.done}/${p.total} done, ${p.running} running, ${p.failed} failed`;
        if (line !== lastLine) log((lastLine = line));
      },
    });
    const report = await executor.execute(plan);
    if (report.failures.length > 0 || report.blocked.length > 0) {
      const why = [...report.failures, ...report.blocked].map((f) => `${f.id}: ${f.reason}`).join('; ');
      throw new QuantaError(`sweep ${name}: ${why}`);
    }
  } else {
    for (const job of jobs) {
      const outcome = await runJobFile(planJobFile(plan, job), {
        storePath: plan.storePath,
        runsDir: plan.runsDir,
        echo: log,
      });
      if (outcome.outcome !== 'done' && outcome.outcome !== 'skipped') {
        throw new QuantaError(`sweep ${name}: job ${job.id} ${outcome.outcome}: ${outcome.detail ?? ''}`);
      }
    }
  }
  const store = RunStore.open(plan.storePath);
  try {
    return jobs.map((job, i) => {
      const record = store.get(job.id);
      const artifact = record?.artifacts.find((a) => a.name === 'result');
      if (record?.status !== 'done' || !artifact) {
        throw new QuantaError(
          `sweep ${name}: run ${job.id} is ${record?.status ?? 'missing'} without a result`,
        );
      }
      const result = JSON.parse(readFileSync(artifact.path, 'utf8')) as QuantaRunResult;
      return { job, config: configs[i], result };
    });
  } finally {
    store.close();
  }
}
