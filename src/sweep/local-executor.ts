// Runs a plan's jobs on this machine, each in its own worker process (`bitscale job <file> --store <db>`),
// so a crashing job never takes the sweep down. CPU jobs are sized to the machine: as many as
// availableParallelism() / coresPerJob. GPU jobs get a GPU each (jobsPerGpu at a time), named to the worker
// through CUDA_VISIBLE_DEVICES. Jobs that consume a finished run (PTQ of a training run) start before new
// training runs, so checkpoints are used soon after they are written. Finished runs are skipped, runs held
// by live workers elsewhere are waited for, and each failure is recorded with its reason.

import { type ChildProcess, fork } from 'node:child_process';
import { availableParallelism, hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { claimIsStale, type RunRecord, RunStore } from '../store/run-store.ts';
import { type ExecutionReport, type Executor, emptyCounts, type JobFailure } from './executor.ts';
import { GpuSelectionError, visibleGpus } from './gpus.ts';
import type { Job } from './job.ts';
import { planJobFile, type SweepPlan } from './plan.ts';
import { progressPrinter, type SweepProgress } from './progress.ts';
import { finishedRunProblem } from './run-job.ts';

export interface LocalExecutorOptions {
  /** Cores given to each job (its --cores and thread count). Default 1. */
  coresPerJob?: number;
  /** Upper bound on simultaneous workers. Default floor(availableParallelism() / coresPerJob), at least 1. */
  maxWorkers?: number;
  /** The CLI script a worker runs; default bin/bitscale.mjs of this package. */
  entry?: string;
  /** Node flags for workers (e.g. ['--import', 'tsx'] for a .ts entry). */
  execArgv?: string[];
  /** Extra environment for workers. */
  env?: NodeJS.ProcessEnv;
  /** Modules of job kinds beyond the built-in ones, passed to each worker as --kinds. */
  kindModules?: string[];
  staleAfterMs?: number;
  /** How often to look at the store while waiting on runs held elsewhere. */
  pollMs?: number;
  /** Called whenever the picture changes; default: a live line on stderr. Pass null for silence. */
  onProgress?: ((p: SweepProgress) => void) | null;
  /** GPU ids jobs may use (see gpus.ts); default none. */
  gpus?: string[];
  /** Jobs sharing one GPU at a time. Default 1. */
  jobsPerGpu?: number;
  /** Which jobs need a GPU; default none. */
  needsGpu?: (job: Job) => boolean;
  /** Epoch ms after which no job that others wait on is started (a time budget): what was started, and the
   *  jobs consuming finished runs, still complete, so nothing is left half-used. */
  startRootsUntil?: number;
  /** Among jobs ready at once, larger starts first (e.g. a training run's FLOPs: the longest runs start
   *  first, so the sweep does not end waiting on one long run). Default: plan order. */
  priority?: (job: Job) => number;
}

/** The CLI a worker runs: $BITSCALE_CLI (a bundled bitscale), else bin/bitscale.mjs of this package. */
const defaultEntry =
  process.env.BITSCALE_CLI ?? fileURLToPath(new URL('../../bin/bitscale.mjs', import.meta.url));

interface Worker {
  job: Job;
  /** The GPU it runs on, if it needs one. */
  gpu: string | null;
  child: ChildProcess;
  startedAt: number;
  fraction: number;
  stderrTail: string;
}

export class LocalExecutor implements Executor {
  readonly coresPerJob: number;
  readonly maxWorkers: number;

  constructor(private readonly options: LocalExecutorOptions = {}) {
    this.coresPerJob = Math.max(1, Math.floor(options.coresPerJob ?? 1));
    this.maxWorkers = Math.max(
      1,
      options.maxWorkers ?? Math.floor(availableParallelism() / this.coresPerJob),
    );
  }

  async execute(plan: SweepPlan, signal?: AbortSignal): Promise<ExecutionReport> {
    const gpuJob = plan.jobs.find((j) => this.options.needsGpu?.(j));
    if (gpuJob && !this.options.gpus?.length)
      throw new GpuSelectionError(
        `job ${gpuJob.id} (${gpuJob.kind}) needs a GPU, and none was given to the sweep (--gpus; visible here: ${visibleGpus().join(', ') || 'none'})`,
      );
    const store = RunStore.open(plan.storePath);
    const show = this.options.onProgress === undefined ? progressPrinter() : this.options.onProgress;
    const workers = new Map<string, Worker>();
    const verified = new Set<string>(); // finished runs whose artifacts were checked in this invocation
    const tried = new Set<string>(); // jobs this invocation already ran once (no retry within one invocation)
    const failures: JobFailure[] = [];
    const durations: number[] = [];
    let wake: () => void = () => {};

    const stopAll = () => {
      for (const w of workers.values()) w.child.kill('SIGTERM');
    };
    signal?.addEventListener('abort', stopAll, { once: true });

    try {
      for (;;) {
        const records = new Map(plan.jobs.map((j) => [j.id, store.get(j.id)] as const));
        // Trust a finished run only after its artifacts check out; otherwise send it back to pending. A result
        // that no pending job consumes stands when its files are gone (a study resumed on another machine
        // carries its store, not every checkpoint), but not when a file that is there was damaged.
        const consumed = new Set(
          plan.jobs.filter((j) => !finished(records.get(j.id))).flatMap((j) => j.deps),
        );
        for (const [id, r] of records) {
          if (finished(r) && !verified.has(id)) {
            const problem = finishedRunProblem(store, r, { missingOk: !consumed.has(id) });
            if (problem) {
              store.invalidate(id, problem);
              records.set(id, store.get(id));
            } else verified.add(id);
          }
        }
        const stale = (r: RunRecord) => claimIsStale(r, { staleAfterMs: this.options.staleAfterMs });
        const state = classify(plan.jobs, records, workers, tried, stale);
        show?.(this.progress(plan, state, workers, durations));

        const rootsAllowed = Date.now() < (this.options.startRootsUntil ?? Number.POSITIVE_INFINITY);
        if (!signal?.aborted) {
          const dependedOn = new Set(plan.jobs.flatMap((j) => j.deps));
          // Consumers first: they free a finished run's files and give results soonest.
          const priority = this.options.priority ?? (() => 0);
          const ready = [...state.ready].sort(
            (a, b) => Number(b.deps.length > 0) - Number(a.deps.length > 0) || priority(b) - priority(a),
          );
          for (const job of ready) {
            if (!rootsAllowed && job.deps.length === 0 && dependedOn.has(job.id)) continue;
            const slot = this.slotFor(job, workers);
            if (slot === undefined) continue;
            tried.add(job.id);
            workers.set(
              job.id,
              this.launch(plan, job, slot, () => wake()),
            );
          }
        }
        // Done when nothing runs and nothing can start: all finished, interrupted, or the time budget is spent.
        if (workers.size === 0 && (state.waiting === 0 || signal?.aborted || !rootsAllowed)) {
          for (const job of plan.jobs) {
            const r = records.get(job.id);
            if (r?.status === 'failed' && tried.has(job.id))
              failures.push({ id: job.id, kind: job.kind, reason: r.error ?? '' });
          }
          const counts = emptyCounts();
          for (const r of records.values()) if (r) counts[r.status]++;
          return { counts, failures, blocked: state.blocked };
        }

        // Sleep until a worker exits or reports progress, or until the next look at the store.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.options.pollMs ?? 1000);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        for (const [id, w] of workers) {
          if (w.child.exitCode === null && w.child.signalCode === null) continue;
          workers.delete(id);
          durations.push((Date.now() - w.startedAt) / 1000);
          const how = w.child.signalCode
            ? `killed by ${w.child.signalCode}`
            : `exited with code ${w.child.exitCode}`;
          const tail = w.stderrTail.trim().split('\n').slice(-3).join(' | ');
          // A worker that died without recording its result leaves its claim behind; record the failure now.
          store.failIfHeldBy(id, hostname(), w.child.pid ?? -1, `worker ${how}${tail ? `: ${tail}` : ''}`);
        }
      }
    } finally {
      signal?.removeEventListener('abort', stopAll);
      if (this.options.onProgress === undefined && process.stderr.isTTY) process.stderr.write('\n');
      store.close();
    }
  }

  /** Jobs that can run at once. */
  private capacity(): number {
    const gpuSlots = this.options.needsGpu
      ? (this.options.gpus?.length ?? 0) * (this.options.jobsPerGpu ?? 1)
      : 0;
    return Math.max(1, this.maxWorkers + gpuSlots);
  }

  /** A GPU id (or null for a CPU job) that the job may start on now; undefined when none is free. */
  private slotFor(job: Job, workers: Map<string, Worker>): string | null | undefined {
    const running = [...workers.values()];
    if (!this.options.needsGpu?.(job)) {
      return running.filter((w) => w.gpu === null).length < this.maxWorkers ? null : undefined;
    }
    const perGpu = this.options.jobsPerGpu ?? 1;
    // The least loaded GPU, so that jobs spread over the GPUs before they share one.
    let best: string | undefined;
    let bestLoad = perGpu;
    for (const gpu of this.options.gpus ?? []) {
      const load = running.filter((w) => w.gpu === gpu).length;
      if (load < bestLoad) [best, bestLoad] = [gpu, load];
    }
    return best;
  }

  private launch(plan: SweepPlan, job: Job, gpu: string | null, onChange: () => void): Worker {
    const args = ['job', planJobFile(plan, job), '--store', plan.storePath, '--runs', plan.runsDir];
    args.push('--cores', String(this.coresPerJob));
    if (this.options.kindModules?.length) args.push('--kinds', this.options.kindModules.join(','));
    if (this.options.staleAfterMs) args.push('--stale-after', String(this.options.staleAfterMs / 1000));
    const threads = String(this.coresPerJob);
    const child = fork(this.options.entry ?? defaultEntry, args, {
      execArgv: this.options.execArgv ?? [],
      env: {
        ...process.env,
        OMP_NUM_THREADS: threads,
        OPENBLAS_NUM_THREADS: threads,
        ...this.options.env,
        ...(gpu === null ? {} : { CUDA_VISIBLE_DEVICES: gpu }),
      },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    const worker: Worker = { job, gpu, child, startedAt: Date.now(), fraction: 0, stderrTail: '' };
    child.stderr?.on('data', (d: Buffer) => {
      worker.stderrTail = (worker.stderrTail + d.toString()).slice(-2000);
    });
    child.on('message', (m: unknown) => {
      const msg = m as { type?: string; fraction?: number };
      if (msg?.type === 'progress' && typeof msg.fraction === 'number') worker.fraction = msg.fraction;
    });
    child.on('exit', onChange);
    child.on('error', onChange);
    return worker;
  }

  private progress(
    plan: SweepPlan,
    state: ReturnType<typeof classify>,
    workers: Map<string, Worker>,
    durations: number[],
  ): SweepProgress {
    const left = state.pending + state.running - [...workers.values()].reduce((s, w) => s + w.fraction, 0);
    const mean = durations.length ? durations.reduce((a, b) => a + b, 0) / durations.length : null;
    return {
      name: plan.name,
      total: plan.jobs.length,
      done: state.done,
      diverged: state.diverged,
      running: state.running,
      failed: state.failed,
      blocked: state.blocked.length,
      pending: state.pending,
      etaSeconds:
        mean === null
          ? null
          : (mean * Math.max(0, left)) /
            Math.min(this.capacity(), Math.max(1, state.pending + state.running)),
    };
  }
}

const finished = (r: RunRecord | undefined): r is RunRecord =>
  r?.status === 'done' || r?.status === 'diverged';

/** Sorts the plan's jobs into what can start now, what waits, and what cannot run in this invocation. */
function classify(
  jobs: Job[],
  records: Map<string, RunRecord | undefined>,
  workers: Map<string, Worker>,
  tried: Set<string>,
  stale: (r: RunRecord) => boolean,
) {
  const ready: Job[] = [];
  const blocked: JobFailure[] = [];
  const dead = new Set<string>(); // failed or blocked in this invocation, or diverged: dependents cannot run
  let [done, diverged, running, failed, pending, waiting] = [0, 0, 0, 0, 0, 0];
  // Jobs come dependencies-first from expansion, so one pass sees each dependency before its dependents.
  for (const job of orderByDeps(jobs)) {
    const r = records.get(job.id);
    const status = r?.status ?? 'pending';
    if (workers.has(job.id)) running++;
    else if (status === 'done') done++;
    else if (status === 'diverged') {
      diverged++;
      dead.add(job.id);
    } else if (status === 'running' && !stale(r!)) {
      running++; // held by a live worker we did not start
      waiting++;
    } else if (tried.has(job.id)) {
      // Tried once in this invocation and not finished: failed, or its worker found it could not start.
      if (status === 'failed') failed++;
      else
        blocked.push({
          id: job.id,
          kind: job.kind,
          reason: r?.error ?? 'its worker could not start it (see its job.log)',
        });
      dead.add(job.id);
    } else {
      const badDep = job.deps.find((d) => dead.has(d));
      if (badDep) {
        const why = records.get(badDep)?.status === 'diverged' ? 'diverged' : 'did not finish';
        blocked.push({ id: job.id, kind: job.kind, reason: `dependency ${badDep} ${why}` });
        dead.add(job.id);
      } else {
        pending++;
        if (job.deps.every((d) => records.get(d)?.status === 'done' && !workers.has(d))) ready.push(job);
        else waiting++;
      }
    }
  }
  return { ready, blocked, done, diverged, running, failed, pending, waiting };
}

function orderByDeps(jobs: Job[]): Job[] {
  const byId = new Map(jobs.map((j) => [j.id, j]));
  const seen = new Set<string>();
  const out: Job[] = [];
  const visit = (j: Job) => {
    if (seen.has(j.id)) return;
    seen.add(j.id);
    for (const d of j.deps) {
      const dep = byId.get(d);
      if (dep) visit(dep);
    }
    out.push(j);
  };
  jobs.forEach(visit);
  return out;
}
