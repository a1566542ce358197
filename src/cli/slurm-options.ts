// The executor options `bitscale sweep` and `bitscale study` share: --executor local|slurm and the Slurm
// knobs (GPUs per task, the array throttle, partition, time, extra #SBATCH lines, wait or not).

import { type Command, InvalidArgumentError } from 'commander';
import type { SlurmExecutorOptions } from '../sweep/slurm-executor.ts';

export interface ExecutorFlags {
  executor: string;
  kinds?: string;
  gpusPerTask?: string;
  arrayThrottle?: string;
  partition?: string;
  time?: string;
  sbatch: string[];
  wait: boolean;
}

export function addExecutorOptions(command: Command): Command {
  return command
    .option('--executor <kind>', 'local or slurm', 'local')
    .option(
      '--kinds <modules>',
      'comma-separated modules exporting `jobKinds`, job kinds beyond the built-in ones',
    )
    .option('--gpus-per-task <n>', 'slurm: GPUs per array task (--gpus-per-task)')
    .option('--array-throttle <n>', 'slurm: most array tasks running at once (the %N of --array)')
    .option('--partition <name>', 'slurm: partition')
    .option('--time <limit>', 'slurm: time limit per task, e.g. 04:00:00')
    .option(
      '--sbatch <line>',
      'slurm: an extra #SBATCH line, e.g. --sbatch=--account=proj (repeatable)',
      (line: string, all: string[]) => [...all, line],
      [] as string[],
    )
    .option('--no-wait', 'slurm: submit and return; run the command again later to collect the results');
}

export function kindModulesOf(flags: ExecutorFlags): string[] {
  return flags.kinds?.split(',').filter(Boolean) ?? [];
}

/** The Slurm executor's options from the flags, or null for --executor local; anything else is refused. */
export function slurmOptionsOf(flags: ExecutorFlags, cpusPerTask: number): SlurmExecutorOptions | null {
  if (flags.executor === 'local') return null;
  if (flags.executor !== 'slurm') {
    throw new InvalidArgumentError(
      `--executor: ${JSON.stringify(flags.executor)} is not an executor (allowed: local, slurm)`,
    );
  }
  return {
    cpusPerTask,
    gpusPerTask: flags.gpusPerTask ? positiveInt(flags.gpusPerTask, '--gpus-per-task') : undefined,
    maxParallel: flags.arrayThrottle ? positiveInt(flags.arrayThrottle, '--array-throttle') : undefined,
    partition: flags.partition,
    timeLimit: flags.time,
    extraDirectives: flags.sbatch,
    kindModules: kindModulesOf(flags),
    wait: flags.wait,
  };
}

export function positiveInt(text: string, option: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0)
    throw new InvalidArgumentError(`${option}: ${JSON.stringify(text)} is not a positive integer`);
  return n;
}
