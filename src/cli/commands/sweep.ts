// `bitscale sweep <spec.yaml>`: expands a sweep spec into job files, registers them in the run store and
// runs them (locally in worker processes, or by submitting Slurm job arrays). Re-running skips what is done.

import { join } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import type { Executor } from '../../sweep/executor.ts';
import { LocalExecutor } from '../../sweep/local-executor.ts';
import { planSweep } from '../../sweep/plan.ts';
import { jobKindsEnv } from '../../sweep/registry.ts';
import { SlurmExecutor } from '../../sweep/slurm-executor.ts';
import { loadSweepSpec } from '../../sweep/spec.ts';

interface SweepOptions {
  dir?: string;
  store?: string;
  executor: string;
  coresPerJob: string;
  maxWorkers?: string;
  kinds?: string;
  partition?: string;
  time?: string;
}

export function registerSweep(program: Command): void {
  program
    .command('sweep')
    .description('run a sweep: every (model, tokens, precision, seed) trained, then quantized at each P_post')
    .argument('<spec>', 'sweep spec, YAML or JSON')
    .option('--dir <dir>', 'sweep directory (default: runs/<name>)')
    .option('--store <db>', 'run store (default: <dir>/bitscale.db)')
    .option('--executor <kind>', 'local or slurm', 'local')
    .option('--cores-per-job <n>', 'CPU cores per job', '1')
    .option('--max-workers <n>', 'simultaneous local workers (default: cores / cores-per-job)')
    .option('--kinds <modules>', `comma-separated modules registering job kinds (also $${jobKindsEnv})`)
    .option('--partition <name>', 'slurm: partition')
    .option('--time <limit>', 'slurm: time limit per task, e.g. 04:00:00')
    .action(async (specPath: string, opts: SweepOptions) => {
      const spec = loadSweepSpec(specPath);
      const dir = opts.dir ?? join('runs', spec.name);
      const slurm = opts.executor === 'slurm';
      if (!slurm && opts.executor !== 'local') {
        throw new InvalidArgumentError(
          `--executor: ${JSON.stringify(opts.executor)} is not an executor (allowed: local, slurm)`,
        );
      }
      const plan = planSweep(spec, { dir, storePath: opts.store, journalMode: slurm ? 'delete' : undefined });
      const cores = positiveInt(opts.coresPerJob, '--cores-per-job');
      const env = opts.kinds ? { [jobKindsEnv]: opts.kinds } : undefined;
      const executor: Executor = slurm
        ? new SlurmExecutor({ cpusPerTask: cores, partition: opts.partition, timeLimit: opts.time, env })
        : new LocalExecutor({
            coresPerJob: cores,
            maxWorkers: opts.maxWorkers ? positiveInt(opts.maxWorkers, '--max-workers') : undefined,
            env,
          });
      const report = await executor.execute(plan);
      const c = report.counts;
      console.log(
        `sweep ${plan.name}: ${c.done} done, ${c.diverged} diverged, ${c.failed} failed, ${c.pending} pending, ${c.running} running`,
      );
      for (const f of report.failures) console.log(`  failed ${f.kind} ${f.id}: ${f.reason}`);
      for (const b of report.blocked) console.log(`  blocked ${b.kind} ${b.id}: ${b.reason}`);
      if (report.submitted) console.log(`  submitted slurm jobs: ${report.submitted.join(', ')}`);
      console.log(`store: ${plan.storePath}`);
      if (report.failures.length > 0) process.exitCode = 1;
    });
}

function positiveInt(text: string, option: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0)
    throw new InvalidArgumentError(`${option}: ${JSON.stringify(text)} is not a positive integer`);
  return n;
}
