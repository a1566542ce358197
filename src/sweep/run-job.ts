// Runs one job file against the run store: the body of `bitscale job`, on a laptop or a Slurm node.
// Safe to run twice, anywhere: a done run whose artifacts check out is skipped; a run held by a live
// worker is left alone; a stale or failed run is claimed and (re)done.

import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { artifactProblem, describeArtifact } from '../store/artifacts.ts';
import { ClaimLostError } from '../store/errors.ts';
import { type Claim, type RunInputs, type RunRecord, RunStore } from '../store/run-store.ts';
import { readJobFile } from './job.ts';
import { getJobKind, type JobContext, type JobLogger } from './registry.ts';

export type JobOutcome =
  | 'done' // ran now and finished
  | 'diverged' // ran now; the loss blew up
  | 'skipped' // already done (or diverged) and its artifacts check out
  | 'failed' // ran now and threw, or was interrupted
  | 'blocked' // a dependency is not done
  | 'busy' // another live worker holds it
  | 'lost'; // its claim was taken over while it ran; its result was discarded

export interface RunJobOptions {
  storePath: string;
  /** Where run directories live; default: `runs/` next to the store. */
  runsDir?: string;
  cores?: number;
  staleAfterMs?: number;
  heartbeatMs?: number;
  signal?: AbortSignal;
  onProgress?: (fraction: number, message?: string) => void;
  /** Where log lines go besides the run's job.log; default stderr. */
  echo?: (line: string) => void;
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
  store: RunStore,
  record: RunRecord,
  options: { missingOk?: boolean } = {},
): string | null {
  const own = artifactProblem(record.artifacts, options);
  if (own) return own;
  for (const [depId, consumed] of Object.entries(record.inputs ?? {})) {
    const dep = store.get(depId);
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
    return await execute(store, claimed.claim, job.kind, job.config, deps, jobPath, options);
  } finally {
    store.close();
  }
}

async function execute(
  store: RunStore,
  claim: Claim,
  kind: string,
  config: JobContext['job']['config'],
  deps: Record<string, RunRecord>,
  jobPath: string,
  options: RunJobOptions,
): Promise<RunJobReport> {
  const runDir = join(options.runsDir ?? defaultRunsDir(options.storePath), claim.id);
  mkdirSync(runDir, { recursive: true });
  const echo = options.echo ?? ((line: string) => process.stderr.write(`${line}\n`));
  const log = makeLogger(join(runDir, 'job.log'), claim, echo);
  const abort = new AbortController();
  const onOuterAbort = () => abort.abort(options.signal?.reason ?? new Error('interrupted'));
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (options.signal?.aborted) onOuterAbort();

  const heartbeatMs = options.heartbeatMs ?? 5_000;
  let lastBeat = Date.now();
  const beat = () => {
    lastBeat = Date.now();
    if (!store.heartbeat(claim) && !abort.signal.aborted) {
      abort.abort(new ClaimLostError(`run ${claim.id}: claim lost (another worker took it over as stale)`));
    }
  };
  const timer = setInterval(beat, heartbeatMs);
  timer.unref();

  const ctx: JobContext = {
    job: { id: claim.id, kind, config, deps: Object.keys(deps) },
    runDir,
    deps,
    attempt: claim.attempt,
    cores: options.cores ?? 1,
    progress(fraction, message) {
      options.onProgress?.(fraction, message);
      if (Date.now() - lastBeat >= heartbeatMs) beat();
    },
    signal: abort.signal,
    log,
  };

  log.info(`start ${kind} attempt ${claim.attempt} (${jobPath})`);
  try {
    // A job that returns has done its work: record it even if a stop was requested meanwhile (only a lost
    // claim discards a result, and finish() enforces that).
    const result = await getJobKind(kind)(config, ctx);
    const artifacts = Object.entries(result.artifacts).map(([name, path]) =>
      describeArtifact(name, resolve(path)),
    );
    const inputs: RunInputs = Object.fromEntries(
      Object.values(deps).map((d) => [d.id, Object.fromEntries(d.artifacts.map((a) => [a.name, a.sha256]))]),
    );
    const status = result.status ?? 'done';
    store.finish(claim, { status, metrics: result.metrics, artifacts, inputs });
    log.info(`finished: ${status}`);
    return { id: claim.id, outcome: status };
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    if (err instanceof ClaimLostError) {
      log.warn(reason);
      return { id: claim.id, outcome: 'lost', detail: reason };
    }
    log.error(`failed: ${err instanceof Error && err.stack ? err.stack : reason}`);
    try {
      store.fail(claim, reason);
    } catch (e) {
      if (e instanceof ClaimLostError) return { id: claim.id, outcome: 'lost', detail: e.message };
      throw e;
    }
    return { id: claim.id, outcome: 'failed', detail: reason };
  } finally {
    clearInterval(timer);
    options.signal?.removeEventListener('abort', onOuterAbort);
  }
}

function makeLogger(path: string, claim: Claim, echo: (line: string) => void): JobLogger {
  const write = (level: string, message: string) => {
    const line = `${new Date().toISOString()} ${level} [${claim.id} #${claim.attempt}] ${message}`;
    appendFileSync(path, `${line}\n`);
    echo(line);
  };
  return {
    info: (m) => write('info', m),
    warn: (m) => write('warn', m),
    error: (m) => write('error', m),
  };
}
