// Submits a plan to Slurm as job arrays: array task i runs `bitscale job jobs/<id>.json --store <db>` for
// the i-th job of a list file. Jobs with dependencies go in later "waves" (wave k holds jobs whose longest
// dependency chain has length k), each array submitted with --dependency=afterany on the previous one; a
// job whose dependency did not finish reports itself blocked. Every task writes to the same run store over
// the shared filesystem, which is why the store must use journalMode 'delete' there (see StoreOptions).

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../base/atomic-write.ts';
import { RunStore } from '../store/run-store.ts';
import { SweepError } from './errors.ts';
import { type ExecutionReport, type Executor, emptyCounts } from './executor.ts';
import type { Job } from './job.ts';
import { planJobFile, type SweepPlan } from './plan.ts';

export interface SlurmExecutorOptions {
  /** Shell words that start the CLI on a compute node; default `node <this package>/bin/bitscale.mjs`. */
  command?: string;
  /** The sbatch program; default 'sbatch' from PATH. */
  sbatch?: string;
  cpusPerTask?: number;
  gpusPerTask?: number;
  /** Most array tasks running at once (the %N of --array). */
  maxParallel?: number;
  partition?: string;
  /** --time, e.g. '04:00:00'. */
  timeLimit?: string;
  /** More `#SBATCH ...` lines, e.g. ['--account=proj', '--mem=16G']. */
  extraDirectives?: string[];
  /** Exported in each task (e.g. BITSCALE_JOB_KINDS). */
  env?: Record<string, string>;
}

export interface SlurmWave {
  index: number;
  jobs: Job[];
  listPath: string;
  scriptPath: string;
}

const defaultCommand = `node ${shellQuote(fileURLToPath(new URL('../../bin/bitscale.mjs', import.meta.url)))}`;

export class SlurmExecutor implements Executor {
  constructor(private readonly options: SlurmExecutorOptions = {}) {}

  /** Writes slurm/wave-<k>.list and slurm/wave-<k>.sbatch next to the jobs directory, without submitting. */
  writeScripts(plan: SweepPlan): SlurmWave[] {
    const dir = join(plan.jobsDir, '..', 'slurm');
    return jobWaves(plan.jobs).map((jobs, index) => {
      const wave: SlurmWave = {
        index,
        jobs,
        listPath: join(dir, `wave-${index}.list`),
        scriptPath: join(dir, `wave-${index}.sbatch`),
      };
      writeFileAtomic(wave.listPath, `${jobs.map((j) => planJobFile(plan, j)).join('\n')}\n`);
      writeFileAtomic(wave.scriptPath, this.script(plan, wave, join(dir, 'logs')));
      return wave;
    });
  }

  async execute(plan: SweepPlan): Promise<ExecutionReport> {
    const submitted: string[] = [];
    for (const wave of this.writeScripts(plan)) {
      const args = ['--parsable'];
      if (submitted.length > 0) args.push(`--dependency=afterany:${submitted.at(-1)}`);
      args.push(wave.scriptPath);
      let out: string;
      try {
        out = execFileSync(this.options.sbatch ?? 'sbatch', args, { encoding: 'utf8' });
      } catch (err) {
        throw new SweepError(`sbatch ${args.join(' ')} failed: ${(err as Error).message}`);
      }
      // --parsable prints "jobid" or "jobid;cluster"; fake or wrapped sbatch may print more lines before it.
      const id = out.trim().split('\n').at(-1)?.split(';')[0] ?? '';
      if (!/^\d+$/.test(id))
        throw new SweepError(`sbatch printed ${JSON.stringify(out.trim())}, expected a job id`);
      submitted.push(id);
    }
    const store = RunStore.open(plan.storePath);
    try {
      const counts = emptyCounts();
      const failures = [];
      for (const job of plan.jobs) {
        const r = store.get(job.id);
        if (!r) continue;
        counts[r.status]++;
        if (r.status === 'failed') failures.push({ id: r.id, kind: r.kind, reason: r.error ?? '' });
      }
      return { counts, failures, blocked: [], submitted };
    } finally {
      store.close();
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
      ...(o.gpusPerTask ? [`--gpus-per-task=${o.gpusPerTask}`] : []),
      ...(o.partition ? [`--partition=${o.partition}`] : []),
      ...(o.timeLimit ? [`--time=${o.timeLimit}`] : []),
      ...(o.extraDirectives ?? []),
    ];
    const env = Object.entries(o.env ?? {}).map(([k, v]) => `export ${k}=${shellQuote(v)}`);
    return [
      '#!/bin/bash',
      ...directives.map((d) => `#SBATCH ${d}`),
      `# bitscale sweep ${plan.name}, wave ${wave.index}: ${wave.jobs.length} jobs, one per array task.`,
      'set -euo pipefail',
      `mkdir -p ${shellQuote(logDir)}`,
      ...env,
      `export OMP_NUM_THREADS=\${SLURM_CPUS_PER_TASK:-${cpus}}`,
      `JOB_FILE=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" ${shellQuote(wave.listPath)})`,
      `exec ${o.command ?? defaultCommand} job "$JOB_FILE" --store ${shellQuote(plan.storePath)} ` +
        `--runs ${shellQuote(plan.runsDir)} --cores "\${SLURM_CPUS_PER_TASK:-${cpus}}"`,
      '',
    ].join('\n');
  }
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
