// `bitscale sweep <spec.yaml>`: expands a sweep spec into job files, registers them in the run store and
// runs them (locally in worker processes, or by submitting Slurm job arrays). Re-running skips what is done.

import { join } from 'node:path';
import type { Command } from 'commander';
import type { Executor } from '../../sweep/executor.ts';
import { checkJobKinds, type JobKinds, loadJobKinds } from '../../sweep/job-kind.ts';
import { LocalExecutor } from '../../sweep/local-executor.ts';
import { planSweep } from '../../sweep/plan.ts';
import { SlurmExecutor } from '../../sweep/slurm-executor.ts';
import { loadSweepSpec } from '../../sweep/spec.ts';
import {
  addExecutorOptions,
  type ExecutorFlags,
  kindModulesOf,
  positiveInt,
  slurmOptionsOf,
} from '../slurm-options.ts';

interface SweepOptions extends ExecutorFlags {
  dir?: string;
  store?: string;
  coresPerJob: string;
  maxWorkers?: string;
}

/** `builtin`: the job kinds the workers run without --kinds. */
export function registerSweep(program: Command, builtin: JobKinds): void {
  const command = program
    .command('sweep')
    .description('run a sweep: every (model, tokens, precision, seed) trained, then quantized at each P_post')
    .argument('<spec>', 'sweep spec, YAML or JSON')
    .option('--dir <dir>', 'sweep directory (default: runs/<name>)')
    .option('--store <db>', 'run store (default: <dir>/bitscale.db)')
    .option('--cores-per-job <n>', 'CPU cores per job', '1')
    .option('--max-workers <n>', 'simultaneous local workers (default: cores / cores-per-job)');
  addExecutorOptions(command).action(async (specPath: string, opts: SweepOptions) => {
    const spec = loadSweepSpec(specPath);
    const dir = opts.dir ?? join('runs', spec.name);
    const cores = positiveInt(opts.coresPerJob, '--cores-per-job');
    const slurm = slurmOptionsOf(opts, cores);
    const kindModules = kindModulesOf(opts);
    const plan = planSweep(spec, { dir, storePath: opts.store });
    // Every job's kind must have a runner before any job starts.
    checkJobKinds(plan.jobs, await loadJobKinds(kindModules, builtin));
    const executor: Executor = slurm
      ? new SlurmExecutor(slurm)
      : new LocalExecutor({
          coresPerJob: cores,
          maxWorkers: opts.maxWorkers ? positiveInt(opts.maxWorkers, '--max-workers') : undefined,
          kindModules,
        });
    const report = await executor.execute(plan);
    const c = report.counts;
    console.log(
      `sweep ${plan.name}: ${c.done} done, ${c.diverged} diverged, ${c.failed} failed, ${c.pending} pending, ${c.running} running`,
    );
    for (const f of report.failures) console.log(`  failed ${f.kind} ${f.id}: ${f.reason}`);
    for (const b of report.blocked) console.log(`  blocked ${b.kind} ${b.id}: ${b.reason}`);
    if (report.submitted?.length) console.log(`  submitted slurm jobs: ${report.submitted.join(', ')}`);
    console.log(`store: ${plan.storePath}`);
    if (report.failures.length > 0) process.exitCode = 1;
  });
}
