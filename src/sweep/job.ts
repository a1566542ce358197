// A job is self-describing: its file holds the kind and the resolved config, and its id is the hash of
// both, so the file alone defines the work and running it twice produces the same run, not a second one.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../base/atomic-write.ts';
import { canonicalJson, contentId } from './canonical.ts';
import { JobFileError } from './errors.ts';
import type { JsonObject } from './spec.ts';

export interface Job {
  /** contentId({ kind, config }). */
  id: string;
  /** 'train', 'ptq', or any kind in the job-kind map (src/jobs/builtin.ts, or --kinds). */
  kind: string;
  config: JsonObject;
  /** Ids of jobs that must be done first (a PTQ job depends on the training job it quantizes). */
  deps: string[];
}

export function makeJob(kind: string, config: JsonObject, deps: string[] = []): Job {
  return { id: contentId({ kind, config }), kind, config, deps: [...deps].sort() };
}

export function jobFilePath(jobsDir: string, id: string): string {
  return join(jobsDir, `${id}.json`);
}

/** Writes jobs/<id>.json atomically; the content is canonical, so rewriting an existing job is a no-op. */
export function writeJobFile(jobsDir: string, job: Job): string {
  const path = jobFilePath(jobsDir, job.id);
  const text = `${canonicalJson({ version: 1, id: job.id, kind: job.kind, config: job.config, deps: job.deps })}\n`;
  let existing: string | null = null;
  try {
    existing = readFileSync(path, 'utf8');
  } catch {}
  if (existing !== text) writeFileAtomic(path, text);
  return path;
}

/** Reads and checks a job file: its id must match the hash of its kind and config. */
export function readJobFile(path: string): Job {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new JobFileError(`job file ${path}: cannot read it as JSON: ${(err as Error).message}`);
  }
  const r = raw as Partial<Job> & { version?: number };
  if (typeof r !== 'object' || r === null || r.version !== 1) {
    throw new JobFileError(`job file ${path}: version is ${JSON.stringify(r?.version)}, expected 1`);
  }
  if (
    typeof r.kind !== 'string' ||
    typeof r.config !== 'object' ||
    r.config === null ||
    Array.isArray(r.config)
  ) {
    throw new JobFileError(`job file ${path}: needs a string 'kind' and an object 'config'`);
  }
  if (!Array.isArray(r.deps) || !r.deps.every((d) => typeof d === 'string')) {
    throw new JobFileError(`job file ${path}: 'deps' must be a list of job ids`);
  }
  const job = makeJob(r.kind, r.config, r.deps);
  if (job.id !== r.id) {
    throw new JobFileError(
      `job file ${path}: id ${JSON.stringify(r.id)} does not match its content (${job.id})`,
    );
  }
  return job;
}
