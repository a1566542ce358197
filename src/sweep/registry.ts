// The job-kind registry: the trainer and PTQ plug their implementations in here by kind name, so the
// sweep machinery never imports them. A worker process loads the modules that register kinds
// (see loadJobKindModules) and then runs whatever kind a job file names.

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { RunRecord } from '../store/run-store.ts';
import { UnknownJobKindError } from './errors.ts';
import type { Job } from './job.ts';
import type { JsonObject } from './spec.ts';

export interface JobLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface JobContext {
  job: Job;
  /** The run's own directory (created before the job starts, kept across attempts so jobs can resume). */
  runDir: string;
  /** Finished dependencies (e.g. the training run a PTQ job quantizes), with their metrics and artifacts. */
  deps: Record<string, RunRecord>;
  /** 1 for the first attempt; a larger number means an earlier attempt died (resume from runDir if you can). */
  attempt: number;
  /** CPU cores this job may use. */
  cores: number;
  /**
   * Reports progress in [0, 1]. Also keeps the run's claim alive: a job that blocks the event loop for long
   * stretches should call this at least every few seconds.
   */
  progress(fraction: number, message?: string): void;
  /** Aborted when the job should stop: interrupted, the sweep process died, or the claim was lost. */
  signal: AbortSignal;
  log: JobLogger;
}

export interface JobResult {
  /** 'diverged' records a run whose loss blew up; it is kept but left out of fits. Default 'done'. */
  status?: 'done' | 'diverged';
  /** Summary metrics (final loss, validation loss, delta_PTQ, ...). */
  metrics: JsonObject;
  /** Files the run produced, by name; each is recorded with its sha256 and size and checked before reuse. */
  artifacts: Record<string, string>;
}

export type JobRunner = (config: JsonObject, ctx: JobContext) => Promise<JobResult>;

const kinds = new Map<string, JobRunner>();

export function registerJobKind(kind: string, run: JobRunner): void {
  kinds.set(kind, run);
}

export function getJobKind(kind: string): JobRunner {
  const run = kinds.get(kind);
  if (!run) {
    const known = [...kinds.keys()].join(', ') || 'none';
    throw new UnknownJobKindError(
      `job kind ${JSON.stringify(kind)} has no implementation (registered: ${known}); ` +
        'load the module that registers it with --kinds or BITSCALE_JOB_KINDS',
    );
  }
  return run;
}

export function registeredJobKinds(): string[] {
  return [...kinds.keys()];
}

/** Environment variable listing modules (comma-separated paths) that register job kinds in workers. */
export const jobKindsEnv = 'BITSCALE_JOB_KINDS';

/** Imports modules whose top level calls registerJobKind. Paths are resolved against the working directory. */
export async function loadJobKindModules(paths: string[]): Promise<void> {
  for (const p of paths) await import(pathToFileURL(resolve(p)).href);
}

export function jobKindModulesFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env[jobKindsEnv] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
