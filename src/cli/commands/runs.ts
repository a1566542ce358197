// `bitscale runs export`: the run store as CSV or JSONL, for spreadsheets, pandas and archiving.

import { type Command, InvalidArgumentError } from 'commander';
import { exportRuns, runsToCsv, runsToJsonl } from '../../store/export.ts';
import { type RunStatus, RunStore, runStatuses } from '../../store/run-store.ts';

export function registerRuns(program: Command): void {
  const runs = program.command('runs').description('inspect and export the run store');
  runs
    .command('export')
    .description('export runs as CSV or JSONL')
    .requiredOption('--store <db>', 'the run store (SQLite file)')
    .option('--format <format>', 'csv or jsonl', 'csv')
    .option('--out <path>', 'write here (atomically) instead of stdout')
    .option('--sweep <name>', 'only the runs of this sweep')
    .option('--status <status>', `only runs with this status (${runStatuses.join(', ')})`)
    .action((opts: { store: string; format: string; out?: string; sweep?: string; status?: string }) => {
      if (opts.format !== 'csv' && opts.format !== 'jsonl') {
        throw new InvalidArgumentError(
          `--format: ${JSON.stringify(opts.format)} is not a format (allowed: csv, jsonl)`,
        );
      }
      if (opts.status && !runStatuses.includes(opts.status as RunStatus)) {
        throw new InvalidArgumentError(
          `--status: ${JSON.stringify(opts.status)} is not a status (allowed: ${runStatuses.join(', ')})`,
        );
      }
      const store = RunStore.open(opts.store);
      try {
        const list = store.list({ sweep: opts.sweep, status: opts.status as RunStatus | undefined });
        if (opts.out) exportRuns(list, opts.out, opts.format);
        else process.stdout.write(opts.format === 'csv' ? runsToCsv(list) : runsToJsonl(list));
      } finally {
        store.close();
      }
    });
}
