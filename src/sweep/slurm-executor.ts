// Submits a plan to Slurm as job arrays and waits for them, ingesting each task's result into the run store.
//
// Array task i runs `bitscale job jobs/<id>.json --results results/` for the i-th job of a list file. Jobs
// with dependencies go in later "waves" (wave k holds jobs whose longest dependency chain has length k),
// each array submitted with --dependency=afterany on the previous one; a job whose dependency did not
// finish reports itself blocked.
//
// Why result files and not the store: tasks on many hosts share only a network file system, and SQLite's
// locking over NFS/Lustre is unreliable (SQLite advises against it). So no task opens the store: each
// writes results/<id>.json atomically, and this process (the only one that opens the store, on the
// submitting host) ingests them while it waits, and again on the next run. Claims come from Slurm itself: a
// job is one array task, which Slurm runs at most once at a time, also when requeued. Re-running the sweep
// ingests what finished, then submits only what is not done.

import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../base/atomic-write.ts';
import { outcomeOf, readResultFiles, writeResultFile } from '../store/result-file.ts';
import { RunStore } from '../store/run-store.ts';
import { SweepError } from './errors.ts';
import { type ExecutionReport, type Executor, emptyCounts, type JobFailure } from './executor.ts';
import type { Job } from './job.ts';
import { planJobFile, type SweepPlan } from './plan.ts';
import { progressPrinter, type SweepProgress } from './progress.ts';
import { finishedRunProblem } from './run-job.ts';

export interface SlurmExecutorOptions {
  /** Shell words that start the CLI on a compute node; default `node <this package>/bin/bitscale.mjs`. */
  command?: string;
  /** The sbatch, squeue and scancel programs; default from PATH. */
  sbatch?: string;
  squeue?: string;
  scancel?: string;
  cpusPerTask?: number;
  /** --gpus-per-task; Slurm then sets CUDA_VISIBLE_DEVICES for each task. */
  gpusPerTask?: number;
  /** Most array tasks running at once (the %N of --array). */
  maxParallel?: number;
  partition?: string;
  /** --time, e.g. '04:00:00'. */
  timeLimit?: string;
  /** More `#SBATCH ...` lines, e.g. ['--account=proj', '--mem=16G']. */
  extraDirectives?: string[];
  /** Exported in each task (e.g. BITSCALE_THREADS). */
  env?: Record<string, string>;
  /** Modules of job kinds beyond the built-in ones, passed to each task as --kinds. */
  kindModules?: string[];
  /** Wait for the arrays to finish, ingesting results as they come (default). False: submit and return. */
  wait?: boolean;
  /** How often to look at the queue and the result files while waiting. Default 2 s. */
  pollMs?: number;
  /** Called whenever the picture changes; default: a live line on stderr. Pass null for silence. */
  onProgress?: ((p: SweepProgress) => void) | null;
}

export interface SlurmWave {
  index: number;
  jobs: Job[];
  listPath: string;
  scriptPath: string;
}

/** What a task runs: $BITSCALE_CLI (a bundled bitscale, for hosts without npm), else bin/bitscale.mjs. */
const defaultCommand = `node ${shellQuote(process.env.BITSCALE_CLI ?? fileURLToPath(new URL('../../bin/bitscale.mjs', import.meta.url)))}`;

/** Where the tasks of a plan write their result files. */
export function resultsDirOf(plan: SweepPlan): string {
  return join(dirname(plan.jobsDir), 'results');
}

export class SlurmExecutor implements Executor {
  constructor(private readonly options: SlurmExecutorOptions = {}) {}

  /** Writes slurm/wave-<k>.list and slurm/wave-<k>.sbatch next to the jobs directory, without submitting. */
  writeScripts(plan: SweepPlan, jobs: Job[] = plan.jobs): SlurmWave[] {
    const dir = join(dirname(plan.jobsDir), 'slurm');
    // Slurm opens --output before the script runs, so the log folder must exist at submission.
    mkdirSync(join(dir, 'logs'), { recursive: true });
    return jobWaves(jobs).map((waveJobs, index) => {
      const wave: SlurmWave = {
        index,
        jobs: waveJobs,
        listPath: join(dir, `wave-${index}.list`),
        scriptPath: join(dir, `wave-${index}.sbatch`),
      };
      writeFileAtomic(wave.listPath, `${waveJobs.map((j) => planJobFile(plan, j)).join('\n')}\n`);
      writeFileAtomic(wave.scriptPath, this.script(plan, wave, join(dir, 'logs')));
      return wave;
    });
  }

  async execute(plan: SweepPlan, signal?: AbortSignal): Promise<ExecutionReport> {
    const resultsDir = resultsDirOf(plan);
    const store = RunStore.open(plan.storePath);
    const show = this.options.onProgress === undefined ? progressPrinter() : this.options.onProgress;
    try {
      ingestResults(store, plan, resultsDir);
      const todo = plan.jobs.filter((job) => {
        const r = store.get(job.id)!;
        if (r.status !== 'done' && r.status !== 'diverged') return true;
        const problem = finishedRunProblem(store, r);
        if (problem) store.invalidate(job.id, problem);
        return problem !== null;
      });
      // Tasks read their dependencies from result files: give them one for each dependency already done.
      const todoIds = new Set(todo.map((j) => j.id));
      for (const dep of new Set(todo.flatMap((j) => j.deps))) {
        const r = store.get(dep);
        if (!todoIds.has(dep) && r && r.status !== 'pending' && r.status !== 'running')
          writeResultFile(resultsDir, outcomeOf(r));
      }

      const submitted: string[] = [];
      for (const wave of todo.length ? this.writeScripts(plan, todo) : []) {
        const args = ['--parsable'];
        if (submitted.length > 0) args.push(`--dependency=afterany:${submitted.at(-1)}`);
        args.push(wave.scriptPath);
        const out = this.call(this.options.sbatch ?? 'sbatch', args);
        // --parsable prints "jobid" or "jobid;cluster"; fake or wrapped sbatch may print more lines before it.
        const id = out.trim().split('\n').at(-1)?.split(';')[0] ?? '';
        if (!/^\d+$/.test(id))
          throw new SweepError(`sbatch printed ${JSON.stringify(out.trim())}, expected a job id`);
        submitted.push(id);
      }

      if (submitted.length > 0 && this.options.wait !== false) {
        const onAbort = () => this.call(this.options.scancel ?? 'scancel', submitted, true);
        signal?.addEventListener('abort', onAbort, { once: true });
        try {
          for (;;) {
            const running = this.runningTasks(submitted);
            ingestResults(store, plan, resultsDir);
            show?.(progressOf(plan, store, running ?? 0));
            if (running === null || signal?.aborted) break;
            await new Promise((r) => setTimeout(r, this.options.pollMs ?? 2000));
          }
        } finally {
          signal?.removeEventListener('abort', onAbort);
          if (this.options.onProgress === undefined && process.stderr.isTTY) process.stderr.write('\n');
        }
        ingestResults(store, plan, resultsDir);
      }

      const counts = emptyCounts();
      const failures: JobFailure[] = [];
      const blocked: JobFailure[] = [];
      const waited = submitted.length > 0 && this.options.wait !== false;
      for (const job of plan.jobs) {
        const r = store.get(job.id)!;
        counts[r.status]++;
        if (!todoIds.has(job.id)) continue;
        if (r.status === 'failed') failures.push({ id: r.id, kind: r.kind, reason: r.error ?? '' });
        else if (waited && r.status === 'pending')
          blocked.push({
            id: job.id,
            kind: job.kind,
            reason:
              'its task wrote no result: a dependency did not finish, or the task was cancelled (see slurm/logs)',
          });
      }
      return { counts, failures, blocked, submitted };
    } finally {
      store.close();
    }
  }

  /** Array tasks of the given jobs still in the queue and how many run; null once none is queued. */
  private runningTasks(jobIds: string[]): number | null {
    // -r: one line per array task. squeue fails once Slurm has forgotten the jobs: nothing is queued then.
    let out: string;
    try {
      out = execFileSync(this.options.squeue ?? 'squeue', ['-h', '-r', '-j', jobIds.join(','), '-o', '%t'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch {
      return null;
    }
    const states = out.split('\n').filter(Boolean);
    return states.length === 0 ? null : states.filter((s) => s.trim() === 'R').length;
  }

  private call(program: string, args: string[], quiet = false): string {
    try {
      return execFileSync(program, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      if (quiet) return '';
      const e = err as NodeJS.ErrnoException & { stderr?: string };
      if (e.code === 'ENOENT')
        throw new SweepError(`${program}: not found; --executor slurm needs Slurm's commands on PATH`);
      throw new SweepError(`${program} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
    }
  }

  private script(plan: SweepPlan, wave: SlurmWave, logDir: string): string {
    const o = this.options;
    const cpus = o.cpusPerTask ?? 1;
    const array = `0-${wave.jobs.length - 1}${o.maxParallel ? `%${o.maxParallel}` : ''}`;
    const directives = [
      `--job-name=bitscale-${plan.name}-w${wave.index}`,
      `--array=${array}`,
      `--cpus-per-task=${cpus}`,
      `--output=${logDir}/%A_%a.out`,
      // A requeued task appends to its log and resumes from its run directory.
      '--open-mode=append',
      '--requeue',
      ...(o.gpusPerTask ? [`--gpus-per-task=${o.gpusPerTask}`] : []),
      ...(o.partition ? [`--partition=${o.partition}`] : []),
      ...(o.timeLimit ? [`--time=${o.timeLimit}`] : []),
      ...(o.extraDirectives ?? []).map((d) => d.replace(/^#SBATCH\s+/, '')),
    ];
    const env = Object.entries(o.env ?? {}).map(([k, v]) => `export ${k}=${shellQuote(v)}`);
    const kinds = o.kindModules?.length ? ` --kinds ${shellQuote(o.kindModules.join(','))}` : '';
    return [
      '#!/bin/bash',
      ...directives.map((d) => `#SBATCH ${d}`),
      `# bitscale sweep ${plan.name}, wave ${wave.index}: ${wave.jobs.length} jobs, one per array task.`,
      'set -euo pipefail',
      ...env,
      `export OMP_NUM_THREADS=\${SLURM_CPUS_PER_TASK:-${cpus}}`,
      `JOB_FILE=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" ${shellQuote(wave.listPath)})`,
      `exec ${o.command ?? defaultCommand} job "$JOB_FILE" --results ${shellQuote(resultsDirOf(plan))} ` +
        `--runs ${shellQuote(plan.runsDir)} --cores "\${SLURM_CPUS_PER_TASK:-${cpus}}"${kinds}`,
      '',
    ].join('\n');
  }
}

/** Takes every result file of the plan's jobs that is newer than what the store holds. */
export function ingestResults(store: RunStore, plan: SweepPlan, resultsDir: string): number {
  const ids = new Set(plan.jobs.map((j) => j.id));
  let taken = 0;
  for (const [id, outcome] of readResultFiles(resultsDir)) if (ids.has(id) && store.ingest(outcome)) taken++;
  return taken;
}

function progressOf(plan: SweepPlan, store: RunStore, running: number): SweepProgress {
  const p: SweepProgress = {
    name: plan.name,
    total: plan.jobs.length,
    done: 0,
    diverged: 0,
    running,
    failed: 0,
    blocked: 0,
    pending: 0,
    etaSeconds: null,
  };
  for (const job of plan.jobs) {
    const status = store.get(job.id)?.status;
    if (status === 'done' || status === 'diverged' || status === 'failed') p[status]++;
    else p.pending++;
  }
  // The queue is read before the result files, so a task may still show as running after its result came.
  p.running = Math.min(running, p.pending);
  p.pending -= p.running;
  return p;
}

/** Groups jobs by the length of their longest dependency chain: wave 0 has no dependencies. */
export function jobWaves(jobs: Job[]): Job[][] {
  const byId = new Map(jobs.map((j) => [j.id, j]));
  const depth = new Map<string, number>();
  const depthOf = (job: Job): number => {
    const known = depth.get(job.id);
    if (known !== undefined) return known;
    const d = Math.max(-1, ...job.deps.map((id) => (byId.has(id) ? depthOf(byId.get(id)!) : -1))) + 1;
    depth.set(job.id, d);
    return d;
  };
  const waves: Job[][] = [];
  for (const job of jobs) (waves[depthOf(job)] ??= []).push(job);
  return waves.filter(Boolean);
}

export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_/.,:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
