// What a job kind is: a runner from a job's config to its result. The sweep machinery runs whatever runner a
// job's kind maps to in the JobKinds it is handed; it never imports the trainer, PTQ or an experiment. The
// map of built-in kinds lives above it (src/jobs/builtin.ts) and the CLI wires it in; a user adds kinds with
// a module whose export `jobKinds` (or default export) is such a map (`--kinds <module>`).

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

/** Job kind name -> runner. */
export type JobKinds = Readonly<Record<string, JobRunner>>;

export function runnerFor(kinds: JobKinds, kind: string): JobRunner {
  const run = Object.hasOwn(kinds, kind) ? kinds[kind] : undefined;
  if (!run) {
    const known = Object.keys(kinds).join(', ') || 'none';
    throw new UnknownJobKindError(
      `job kind ${JSON.stringify(kind)} has no implementation (known kinds: ${known}); ` +
        'add a module whose export `jobKinds` maps it to a runner with --kinds <module>',
    );
  }
  return run;
}

/** Throws, naming the first job whose kind none of `kinds` runs: checked before any work starts. */
export function checkJobKinds(jobs: readonly { id: string; kind: string }[], kinds: JobKinds): void {
  for (const job of jobs) runnerFor(kinds, job.kind);
}

/**
 * Imports modules of user job kinds (paths resolved against the working directory) and merges their maps
 * over `base`. Each module exports `jobKinds` (or a default export): { kindName: runner }.
 */
export async function loadJobKinds(paths: readonly string[], base: JobKinds = {}): Promise<JobKinds> {
  const merged: Record<string, JobRunner> = { ...base };
  for (const path of paths) {
    const mod = (await import(pathToFileURL(resolve(path)).href)) as {
      jobKinds?: unknown;
      default?: unknown;
    };
    const map = mod.jobKinds ?? mod.default;
    if (
      typeof map !== 'object' ||
      map === null ||
      !Object.values(map).every((f) => typeof f === 'function')
    ) {
      throw new UnknownJobKindError(
        `--kinds ${path}: the module must export \`jobKinds\` (or a default export), an object mapping ` +
          'each kind name to a runner function',
      );
    }
    Object.assign(merged, map);
  }
  return merged;
}
