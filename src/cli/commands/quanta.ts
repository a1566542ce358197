// `bitscale quanta [--preset quanta] [--out dir]`: the quantization-model study (multitask sparse parity
// sweeps, emergence, scaling fits, QDG) — a thin layer over runQuantaCommand.

import { type Command, InvalidArgumentError } from 'commander';
import { runQuantaCommand, summaryOf } from '../../experiments/quanta/run-study.ts';

export function registerQuanta(program: Command): void {
  program
    .command('quanta')
    .description(
      'the quantization model of scaling: sparse-parity sweeps, emergence, L(N)/L(D)/L(S) fits, QDG',
    )
    .option('--preset <name|file>', 'a preset in experiments/ or a JSON file', 'quanta')
    .option('--out <dir>', 'where the sweep, results JSON and report section go', 'runs/quanta')
    .option('--executor <kind>', "'local' (worker processes) or 'in-process' (default: the preset's)")
    .option('--workers <n>', 'worker processes for the local executor', (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1)
        throw new InvalidArgumentError(`--workers: ${JSON.stringify(v)} is not an integer >= 1`);
      return n;
    })
    .option('--no-qdg', 'skip quanta discovery from gradients')
    .action(
      async (opts: { preset: string; out: string; executor?: string; workers?: number; qdg: boolean }) => {
        // One BLAS/OpenMP thread per process unless told otherwise: with a worker on every core, extra threads
        // only spin against each other (measured 15x slower steps on 2 busy cores). Set before the backend loads.
        process.env.OMP_NUM_THREADS ??= '1';
        process.env.OPENBLAS_NUM_THREADS ??= '1';
        const results = await runQuantaCommand({
          preset: opts.preset,
          out: opts.out,
          executor: opts.executor,
          workers: opts.workers,
          noQdg: !opts.qdg,
          log: (m) => process.stderr.write(`${m}\n`),
        });
        process.stdout.write(`${JSON.stringify(summaryOf(results), null, 2)}\n`);
      },
    );
}
