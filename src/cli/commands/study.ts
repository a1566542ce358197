// `bitscale study [spec] [--preset quick]`: the main job. Runs a precision study (a sweep of training runs and
// their post-training quantization), fits the laws, writes analysis.json and an HTML report.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Command, InvalidArgumentError } from 'commander';
import { writeReport } from '../../report/write.ts';
import { type DryRun, dryRunStudy } from '../../study/dry-run.ts';
import { studyReportInput } from '../../study/report-input.ts';
import { runStudy } from '../../study/run-study.ts';
import { checkJobKinds, type JobKinds } from '../../sweep/job-kind.ts';
import { addExecutorOptions, type ExecutorFlags, slurmOptionsOf } from '../slurm-options.ts';
import { formatOptimum } from './optimize.ts';

const presetsDir = fileURLToPath(new URL('../../../experiments/', import.meta.url));

export function presetPath(name: string): string {
  const path = join(presetsDir, `${name}.yaml`);
  if (!existsSync(path)) throw new Error(`--preset: no preset '${name}' in ${presetsDir}`);
  return path;
}

const fmt = (x: number) => (Math.abs(x) >= 1e4 || Math.abs(x) < 1e-3 ? x.toExponential(3) : x.toPrecision(4));

interface StudyFlags extends ExecutorFlags {
  preset: string;
  out?: string;
  coresPerJob: number;
  workers?: number;
  bootstrap: number;
  gpus?: string;
  jobsPerGpu: number;
  timeLimit?: number;
  dryRun?: boolean;
  throughput?: string;
}

/** `builtin`: the job kinds the workers run (the study needs 'train' and 'ptq'). */
export function registerStudy(program: Command, builtin: JobKinds): void {
  const command = program
    .command('study')
    .description(
      'run a precision study end to end: train the grid, quantize after training, fit the laws, write the report',
    )
    .argument('[spec]', 'sweep spec (YAML or JSON); default: the --preset')
    .option('--preset <name>', 'a spec from experiments/ (quick: ~15 min on 2 CPU cores)', 'quick')
    .option('--out <dir>', 'study folder (run store, runs, analysis, report); default: studies/<name>')
    .option('--cores-per-job <n>', 'CPU cores per training job', Number, 1)
    .option('--workers <n>', 'simultaneous jobs (default: cores / cores-per-job)', Number)
    .option('--bootstrap <k>', 'bootstrap resamples for the fits', Number, 100)
    .option('--gpus <ids>', "local: GPUs for GPU jobs, one job per GPU: '0,1', 'all' (default) or 'none'")
    .option('--jobs-per-gpu <n>', 'local: GPU jobs sharing one GPU at a time', Number, 1)
    .option(
      '--time-limit <minutes>',
      'local: start no new training run after this long; run again to carry on',
      Number,
    )
    .option('--dry-run', 'list the jobs and their estimated device-hours; run nothing')
    .option('--throughput <file>', "with --dry-run: measured throughput (a study's throughput.json)");
  addExecutorOptions(command).action(async (spec: string | undefined, opts: StudyFlags) => {
    if (opts.dryRun) {
      const specPath = spec ?? presetPath(opts.preset);
      printDryRun(dryRunStudy(specPath, opts.throughput ?? defaultThroughput(specPath)));
      return;
    }
    if (!Number.isInteger(opts.jobsPerGpu) || opts.jobsPerGpu < 1)
      throw new InvalidArgumentError(`--jobs-per-gpu: ${opts.jobsPerGpu} is not a positive integer`);
    if (opts.timeLimit !== undefined && !(opts.timeLimit > 0))
      throw new InvalidArgumentError(`--time-limit: ${opts.timeLimit} is not a positive number of minutes`);
    checkJobKinds(
      [
        { id: 'study', kind: 'train' },
        { id: 'study', kind: 'ptq' },
      ],
      builtin,
    );
    const slurm = slurmOptionsOf(opts, opts.coresPerJob);
    if (slurm && !slurm.wait)
      throw new InvalidArgumentError('study --no-wait: the study fits the laws once its runs are done');
    const specPath = spec ?? presetPath(opts.preset);
    const name = spec ? 'custom' : opts.preset;
    const dir = resolve(opts.out ?? join('studies', name));
    const started = performance.now();
    const result = await runStudy({
      spec: specPath,
      dir,
      coresPerJob: opts.coresPerJob,
      maxWorkers: opts.workers,
      gpus: opts.gpus,
      jobsPerGpu: opts.jobsPerGpu,
      timeLimitMinutes: opts.timeLimit,
      slurm: slurm ?? undefined,
      analysis: { bootstrap: opts.bootstrap },
    });
    const input = studyReportInput(result.analysis, `bitscale precision study: ${name}`, [
      `spec: ${specPath}`,
    ]);
    const written = await writeReport(input, join(dir, 'report'));
    const { counts, failures, blocked } = result.execution;
    console.log(
      `runs: ${Object.entries(counts)
        .map(([k, v]) => `${v} ${k}`)
        .join(', ')}`,
    );
    for (const f of [...failures, ...blocked]) console.log(`  not done: ${f.id} ${f.kind}: ${f.reason}`);
    for (const fit of result.analysis.fits) {
      if (!fit.result) {
        console.log(`${fit.title}: not fitted (${fit.skipped})`);
        continue;
      }
      const params = Object.entries(fit.result.params).map(([k, v]) => {
        const i = fit.result!.intervals?.[k];
        return `${k}=${fmt(v)}${i ? ` [${fmt(i.lower)}, ${fmt(i.upper)}]` : ''}`;
      });
      const held = fit.result.holdout
        ? `; held-out error ${(100 * fit.result.holdout.meanRelativeError).toFixed(2)}%`
        : '';
      console.log(`${fit.title} (${fit.rows.length} runs${held}):\n  ${params.join('\n  ')}`);
    }
    const { decision } = result.analysis;
    console.log(`optimal training precision (${decision.cost}):`);
    if (decision.undecided) console.log(`  cannot decide: ${decision.undecided}`);
    for (const o of result.analysis.optimalPrecision) console.log(formatOptimum(o, o.interval));
    console.log(`analysis: ${result.analysisPath}`);
    console.log(
      `report:   ${written.html}${written.pngSkipped ? ` (PNG charts skipped: ${written.pngSkipped})` : ''}${written.explorerSkipped ? ` (explorer skipped: ${written.explorerSkipped})` : ''}`,
    );
    console.log(`took ${((performance.now() - started) / 60000).toFixed(1)} min`);
    if (failures.length > 0) process.exitCode = 1;
  });
}

/** The throughput recorded by the GPU study that ran (experiments/gpu-small-results), for specs on cuda. */
function defaultThroughput(specPath: string): string | undefined {
  const recorded = join(presetsDir, 'gpu-small-results', 'throughput.json');
  return existsSync(recorded) && /gpu/.test(specPath) ? recorded : undefined;
}

function printDryRun(d: DryRun): void {
  const kinds = new Map<string, number>();
  for (const j of d.jobs) kinds.set(j.kind, (kinds.get(j.kind) ?? 0) + 1);
  console.log(
    `study ${d.name}: ${d.jobs.length} jobs (${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ')}) on ${d.backends.join(', ')}`,
  );
  for (const j of d.jobs.filter((j) => j.kind === 'train'))
    console.log(`  train ${j.id.slice(0, 12)} ${j.summary}`);
  const e = d.estimate;
  if (!e) {
    console.log("estimate: no measured throughput (give --throughput <a study's throughput.json>)");
    return;
  }
  const device = d.backends.includes('cuda') ? 'GPU' : 'CPU';
  console.log(
    `estimate from ${d.throughputFrom}: ${e.hours.toFixed(2)} ${device}-hours (training ${e.trainHours.toFixed(2)}, PTQ ${e.ptqHours.toFixed(2)}${e.distillJobs ? `, OneBit distillation ${e.distillHours.toFixed(2)}` : ''}); longest run ${(e.longestRunHours * 60).toFixed(1)} min; ${e.trainJobsAtFormatRate} of ${e.trainJobs} training runs at their format's measured rate, the rest at the rate of all measured runs`,
  );
}
