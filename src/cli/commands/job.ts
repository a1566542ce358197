// `bitscale job <job.json> --store <db>`: runs one job of a sweep. What a local worker process executes;
// a Slurm array task runs `bitscale job <job.json> --results <dir>` instead, which writes the run's result
// file and never opens the store. Prints one JSON line with the outcome; the exit code says it too.

import { type Command, InvalidArgumentError } from 'commander';
import { type JobKinds, loadJobKinds } from '../../sweep/job-kind.ts';
import { type JobOutcome, runJobFile, runJobToResultFile } from '../../sweep/run-job.ts';

/** Exit codes: 0 finished or already finished; 1 failed; 3 blocked on a dependency; 4 held elsewhere; 5 claim lost. */
export const jobExitCodes: Record<JobOutcome, number> = {
  done: 0,
  diverged: 0,
  skipped: 0,
  failed: 1,
  blocked: 3,
  busy: 4,
  lost: 5,
};

/** How long a job may take to stop after its sweep process died, before the worker exits anyway. */
const orphanGraceMs = 3_000;

interface JobOptions {
  store?: string;
  results?: string;
  runs?: string;
  cores: string;
  staleAfter: string;
  kinds?: string;
}

/** `builtin`: the job kinds this CLI runs without --kinds. */
export function registerJob(program: Command, builtin: JobKinds): void {
  program
    .command('job')
    .description('run one job file of a sweep against the run store, or to a result file (safe to run twice)')
    .argument('<job-file>', 'a jobs/<id>.json file written by `bitscale sweep`')
    .option('--store <db>', 'the run store (SQLite file)')
    .option('--results <dir>', 'write the outcome to <dir>/<id>.json instead of a store (Slurm tasks)')
    .option('--runs <dir>', 'where run directories live (default: runs/ next to the store or results)')
    .option('--cores <n>', 'CPU cores this job may use', '1')
    .option('--stale-after <seconds>', 'treat claims without a heartbeat for this long as dead', '60')
    .option('--kinds <modules>', 'comma-separated modules exporting `jobKinds`, more job kinds to run')
    .action(async (jobFile: string, opts: JobOptions) => {
      if (!opts.store === !opts.results)
        throw new InvalidArgumentError('give exactly one of --store <db> and --results <dir>');
      const cores = positiveNumber(opts.cores, '--cores');
      const staleAfter = positiveNumber(opts.staleAfter, '--stale-after');
      const kinds = await loadJobKinds(opts.kinds?.split(',').filter(Boolean) ?? [], builtin);

      const abort = new AbortController();
      const stop = (why: string) => {
        if (!abort.signal.aborted) abort.abort(new Error(why));
      };
      // A local worker stops gracefully and records the interruption. A Slurm task keeps the default: Slurm's
      // SIGTERM (cancel, requeue, preemption, time limit) ends it at once, mid-step if need be, since a job
      // that blocks the event loop could not see the signal anyway; the next attempt resumes from the run's
      // folder, and a task that wrote no result file is reported by the submitter.
      if (!opts.results) {
        process.once('SIGTERM', () => stop('interrupted by SIGTERM'));
        process.once('SIGINT', () => stop('interrupted by SIGINT'));
      }
      // If the sweep process dies, the pipes to it break; a failed write must not kill the job mid-way.
      process.stdout.on('error', () => {});
      process.stderr.on('error', () => {});
      // Started by a local sweep: if the sweep process dies, stop too rather than run on unsupervised.
      // The claim is left behind and is reclaimed as stale (this pid is gone) by the next run of the sweep.
      const orphaned = () => {
        stop('the sweep process went away');
        setTimeout(() => process.exit(75), orphanGraceMs).unref();
      };
      process.once('disconnect', orphaned);

      const common = {
        kinds,
        runsDir: opts.runs,
        cores,
        signal: abort.signal,
        onProgress: (fraction: number, message?: string) => {
          // The callback swallows a send to a sweep that just died (otherwise an 'error' event kills us).
          if (process.connected)
            process.send?.({ type: 'progress', fraction, message }, undefined, undefined, () => {});
        },
      };
      // A requeued Slurm task is the same task started again; Slurm counts the restarts.
      const restarts = Number(process.env.SLURM_RESTART_COUNT ?? 0);
      const report = opts.results
        ? await runJobToResultFile(jobFile, {
            ...common,
            resultsDir: opts.results,
            attempt: Number.isInteger(restarts) && restarts >= 0 ? restarts + 1 : 1,
          })
        : await runJobFile(jobFile, { ...common, storePath: opts.store!, staleAfterMs: staleAfter * 1000 });
      process.stdout.write(`${JSON.stringify(report)}\n`);
      process.exitCode = jobExitCodes[report.outcome];
      process.off('disconnect', orphaned);
      if (process.connected) process.disconnect();
    });
}

function positiveNumber(text: string, option: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError(`${option}: ${JSON.stringify(text)} is not a positive number`);
  return n;
}
