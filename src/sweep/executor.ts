// The executor seam: something that gets a plan's jobs run. LocalExecutor runs them in worker processes on
// this machine; SlurmExecutor submits them as job arrays. Either way the run store is the source of truth.

import type { RunStatus } from '../store/run-store.ts';
import type { SweepPlan } from './plan.ts';

export interface JobFailure {
  id: string;
  kind: string;
  reason: string;
}

export interface ExecutionReport {
  /** Run statuses in the store for the plan's jobs when the executor returned. */
  counts: Record<RunStatus, number>;
  failures: JobFailure[];
  /** Jobs not run because a dependency failed or diverged. */
  blocked: JobFailure[];
  /** Cluster job ids, for executors that submit. */
  submitted?: string[];
}

export interface Executor {
  execute(plan: SweepPlan, signal?: AbortSignal): Promise<ExecutionReport>;
}

export function emptyCounts(): Record<RunStatus, number> {
  return { pending: 0, running: 0, done: 0, failed: 0, diverged: 0 };
}
