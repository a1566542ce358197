// `bitscale runs export`: the run store as CSV or JSONL, for spreadsheets, pandas and archiving.

import { type Command, InvalidArgumentError } from 'commander';
import { type ExportFormat, exportFormats, exportStore } from '../../store/export.ts';
import { type RunStatus, runStatuses } from '../../store/run-store.ts';

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
    .action(
      (opts: { store: string; format: ExportFormat; out?: string; sweep?: string; status?: string }) => {
        if (!exportFormats.includes(opts.format as ExportFormat)) {
          throw new InvalidArgumentError(
            `--format: ${JSON.stringify(opts.format)} is not a format (allowed: ${exportFormats.join(', ')})`,
          );
        }
        if (opts.status && !runStatuses.includes(opts.status as RunStatus)) {
          throw new InvalidArgumentError(
            `--status: ${JSON.stringify(opts.status)} is not a status (allowed: ${runStatuses.join(', ')})`,
          );
        }
        const text = exportStore({
          store: opts.store,
          format: opts.format,
          out: opts.out,
          sweep: opts.sweep,
          status: opts.status as RunStatus | undefined,
        });
        if (text !== undefined) process.stdout.write(text);
      },
    );
}
