// Runs one job file: the body of `bitscale job`, on a laptop or a Slurm node. Safe to run twice, anywhere.
// Two ways to record the run:
// - against the run store (runJobFile): a done run whose artifacts check out is skipped; a run held by a live
//   worker is left alone; a stale or failed run is claimed and (re)done. Local workers share one SQLite file.
// - to a result file (runJobToResultFile): for Slurm tasks, which never open the store (see
//   store/result-file.ts for why); dependencies are read from their result files.

import { appendFileSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { artifactProblem, describeArtifact } from '../store/artifacts.ts';
import { ClaimLostError } from '../store/errors.ts';
import { readResultFile, resultFilePath, writeResultFile } from '../store/result-file.ts';
import { type RunInputs, type RunRecord, RunStore } from '../store/run-store.ts';
import { type Job, readJobFile } from './job.ts';
import { type JobContext, type JobKinds, type JobLogger, runnerFor } from './job-kind.ts';
import type { JsonObject } from './spec.ts';

export type JobOutcome =
  | 'done' // ran now and finished
  | 'diverged' // ran now; the loss blew up
  | 'skipped' // already done (or diverged) and its artifacts check out
  | 'failed' // ran now and threw, or was interrupted
  | 'blocked' // a dependency is not done
  | 'busy' // another live worker holds it
  | 'lost'; // its claim was taken over while it ran; its result was discarded

interface CommonOptions {
  /** The runners, by kind name. */
  kinds: JobKinds;
  /** Where run directories live; default: `runs/` next to the store (or the results folder). */
  runsDir?: string;
  cores?: number;
  signal?: AbortSignal;
  onProgress?: (fraction: number, message?: string) => void;
  /** Where log lines go besides the run's job.log; default stderr. */
  echo?: (line: string) => void;
}

export interface RunJobOptions extends CommonOptions {
  storePath: string;
  staleAfterMs?: number;
  heartbeatMs?: number;
}

export interface ResultFileOptions extends CommonOptions {
  /** The folder of result files (one <run id>.json per run). */
  resultsDir: string;
  /** 1 for the first attempt (a requeued Slurm task passes SLURM_RESTART_COUNT + 1). */
  attempt?: number;
}

export interface RunJobReport {
  id: string;
  outcome: JobOutcome;
  detail?: string;
}

export function defaultRunsDir(storePath: string): string {
  return join(dirname(resolve(storePath)), 'runs');
}

/**
 * Checks a finished run: its own artifacts (with `missingOk`, those still on disk), and that its dependencies
 * still have the artifacts it consumed.
 */
export function finishedRunProblem(
  lookup: { get(id: string): Pick<RunRecord, 'status' | 'artifacts'> | undefined },
  record: Pick<RunRecord, 'artifacts' | 'inputs'>,
  options: { missingOk?: boolean } = {},
): string | null {
  const own = artifactProblem(record.artifacts, options);
  if (own) return own;
  for (const [depId, consumed] of Object.entries(record.inputs ?? {})) {
    const dep = lookup.get(depId);
    const now = Object.fromEntries((dep?.artifacts ?? []).map((a) => [a.name, a.sha256]));
    for (const [name, sha] of Object.entries(consumed)) {
      if (dep?.status !== 'done' || now[name] !== sha)
        return `input ${name} of ${depId} changed since this run used it`;
    }
  }
  return null;
}

export async function runJobFile(jobPath: string, options: RunJobOptions): Promise<RunJobReport> {
  const job = readJobFile(jobPath);
  runnerFor(options.kinds, job.kind);
  const store = RunStore.open(options.storePath);
  try {
    store.addJobs([job]);
    const existing = store.get(job.id)!;
    if (existing.status === 'done' || existing.status === 'diverged') {
      const problem = finishedRunProblem(store, existing);
      if (!problem) return { id: job.id, outcome: 'skipped' };
      store.invalidate(job.id, problem);
    }

    const deps: Record<string, RunRecord> = {};
    for (const depId of job.deps) {
      const dep = store.get(depId);
      if (dep?.status !== 'done') {
        return {
          id: job.id,
          outcome: 'blocked',
          detail: `dependency ${depId} is ${dep?.status ?? 'not in the store'}`,
        };
      }
      const problem = artifactProblem(dep.artifacts);
      if (problem) {
        store.invalidate(depId, problem);
        return { id: job.id, outcome: 'blocked', detail: `dependency ${depId} must be redone: ${problem}` };
      }
      deps[depId] = dep;
    }

    const claimed = store.claim(job.id, { staleAfterMs: options.staleAfterMs });
    if (!claimed.ok) {
      if (claimed.reason === 'running') {
        const r = claimed.record!;
        return { id: job.id, outcome: 'busy', detail: `held by pid ${r.claimPid} on ${r.claimHost}` };
      }
      return { id: job.id, outcome: 'skipped', detail: `became ${claimed.reason} meanwhile` };
    }
    const claim = claimed.claim;

    // Heartbeats keep the claim alive; a lost claim aborts the job and its result is discarded.
    const lost = new AbortController();
    const heartbeatMs = options.heartbeatMs ?? 5_000;
    let lastBeat = Date.now();
    const beat = () => {
      lastBeat = Date.now();
      if (!store.heartbeat(claim) && !lost.signal.aborted) {
        lost.abort(new ClaimLostError(`run ${claim.id}: claim lost (another worker took it over as stale)`));
      }
    };
    const timer = setInterval(beat, heartbeatMs);
    timer.unref();
    try {
      const ran = await runOnce(job, deps, claim.attempt, options, {
        tag: `${claim.id} #${claim.attempt}`,
        signals: [lost.signal],
        onProgress: () => {
          if (Date.now() - lastBeat >= heartbeatMs) beat();
        },
      });
      if (ran.error instanceof ClaimLostError) {
        ran.log.warn(ran.error.message);
        return { id: job.id, outcome: 'lost', detail: ran.error.message };
      }
      try {
        if (ran.result) store.finish(claim, ran.result);
        else store.fail(claim, ran.reason);
      } catch (e) {
        if (e instanceof ClaimLostError) return { id: job.id, outcome: 'lost', detail: e.message };
        throw e;
      }
      return ran.result
        ? { id: job.id, outcome: ran.result.status }
        : { id: job.id, outcome: 'failed', detail: ran.reason };
    } finally {
      clearInterval(timer);
    }
  } finally {
    store.close();
  }
}

export async function runJobToResultFile(jobPath: string, options: ResultFileOptions): Promise<RunJobReport> {
  const job = readJobFile(jobPath);
  runnerFor(options.kinds, job.kind);
  const read = (id: string) => readResultFile(resultFilePath(options.resultsDir, id)) ?? undefined;
  const lookup = { get: read };
  const existing = read(job.id);
  if (existing && existing.status !== 'failed' && !finishedRunProblem(lookup, existing))
    return { id: job.id, outcome: 'skipped' };

  const deps: Record<string, RunRecord> = {};
  for (const depId of job.deps) {
    const dep = read(depId);
    const problem = dep?.status === 'done' ? artifactProblem(dep.artifacts) : null;
    if (dep?.status !== 'done' || problem) {
      const why = problem ?? `it is ${dep?.status ?? 'not finished (no result file)'}`;
      return { id: job.id, outcome: 'blocked', detail: `dependency ${depId}: ${why}` };
    }
    // The runner sees a dependency as a store record; the fields a result file lacks are left empty.
    deps[depId] = {
      ...dep,
      config: readJobFile(join(dirname(resolve(jobPath)), `${depId}.json`)).config,
      deps: [],
      attempts: dep.attempt,
      claimHost: null,
      claimPid: null,
      heartbeatAt: null,
      createdAt: dep.startedAt,
      updatedAt: dep.finishedAt,
    };
  }

  const attempt = options.attempt ?? 1;
  const startedAt = Date.now();
  const ran = await runOnce(
    job,
    deps,
    attempt,
    { ...options, runsDir: options.runsDir ?? join(dirname(resolve(options.resultsDir)), 'runs') },
    {
      tag: `${job.id} #${attempt}`,
      signals: [],
    },
  );
  writeResultFile(options.resultsDir, {
    id: job.id,
    kind: job.kind,
    status: ran.result?.status ?? 'failed',
    metrics: ran.result?.metrics ?? null,
    artifacts: ran.result?.artifacts ?? [],
    inputs: ran.result?.inputs ?? null,
    error: ran.result ? null : ran.reason,
    attempt,
    host: hostname(),
    pid: process.pid,
    startedAt,
    finishedAt: Date.now(),
  });
  return ran.result
    ? { id: job.id, outcome: ran.result.status }
    : { id: job.id, outcome: 'failed', detail: ran.reason };
}

interface Ran {
  result?: {
    status: 'done' | 'diverged';
    metrics: JsonObject;
    artifacts: ReturnType<typeof describeArtifact>[];
    inputs: RunInputs;
  };
  error?: unknown;
  reason: string;
  log: JobLogger;
}

/** Runs the job's runner once in its run directory, with logging, progress and abort wired; never throws. */
async function runOnce(
  job: Job,
  deps: Record<string, RunRecord>,
  attempt: number,
  options: CommonOptions & { storePath?: string },
  how: { tag: string; signals: AbortSignal[]; onProgress?: () => void },
): Promise<Ran> {
  const runsDir = options.runsDir ?? defaultRunsDir(options.storePath!);
  const runDir = join(runsDir, job.id);
  mkdirSync(runDir, { recursive: true });
  const echo = options.echo ?? ((line: string) => process.stderr.write(`${line}\n`));
  const log = makeLogger(join(runDir, 'job.log'), how.tag, echo);
  const signals = options.signal ? [options.signal, ...how.signals] : how.signals;
  const signal = signals.length ? AbortSignal.any(signals) : new AbortController().signal;

  const ctx: JobContext = {
    job: { id: job.id, kind: job.kind, config: job.config, deps: Object.keys(deps) },
    runDir,
    deps,
    attempt,
    cores: options.cores ?? 1,
    progress(fraction, message) {
      options.onProgress?.(fraction, message);
      how.onProgress?.();
    },
    signal,
    log,
  };

  log.info(`start ${job.kind} attempt ${attempt}`);
  try {
    // A job that returns has done its work: record it even if a stop was requested meanwhile (only a lost
    // claim discards a result, and the store enforces that).
    const result = await runnerFor(options.kinds, job.kind)(job.config, ctx);
    const artifacts = Object.entries(result.artifacts).map(([name, path]) =>
      describeArtifact(name, resolve(path)),
    );
    const inputs: RunInputs = Object.fromEntries(
      Object.values(deps).map((d) => [d.id, Object.fromEntries(d.artifacts.map((a) => [a.name, a.sha256]))]),
    );
    const status = result.status ?? 'done';
    log.info(`finished: ${status}`);
    return { result: { status, metrics: result.metrics, artifacts, inputs }, reason: '', log };
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    if (!(err instanceof ClaimLostError))
      log.error(`failed: ${err instanceof Error && err.stack ? err.stack : reason}`);
    return { error: err, reason, log };
  }
}

function makeLogger(path: string, tag: string, echo: (line: string) => void): JobLogger {
  const write = (level: string, message: string) => {
    const line = `${new Date().toISOString()} ${level} [${tag}] ${message}`;
    appendFileSync(path, `${line}\n`);
    echo(line);
  };
  return {
    info: (m) => write('info', m),
    warn: (m) => write('warn', m),
    error: (m) => write('error', m),
  };
}
