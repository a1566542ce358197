// `bitscale study [spec] [--preset quick]`: the main job. Runs a precision study (a sweep of training runs and
// their post-training quantization), fits the laws, writes analysis.json and an HTML report.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { writeReport } from '../../report/write.ts';
import { studyReportInput } from '../../study/report-input.ts';
import { runStudy } from '../../study/run-study.ts';
import { formatOptimum } from './optimize.ts';

const presetsDir = fileURLToPath(new URL('../../../experiments/', import.meta.url));

export function presetPath(name: string): string {
  const path = join(presetsDir, `${name}.yaml`);
  if (!existsSync(path)) throw new Error(`--preset: no preset '${name}' in ${presetsDir}`);
  return path;
}

const fmt = (x: number) => (Math.abs(x) >= 1e4 || Math.abs(x) < 1e-3 ? x.toExponential(3) : x.toPrecision(4));

export function registerStudy(program: Command): void {
  program
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
    .action(
      async (
        spec: string | undefined,
        opts: { preset: string; out?: string; coresPerJob: number; workers?: number; bootstrap: number },
      ) => {
        const specPath = spec ?? presetPath(opts.preset);
        const name = spec ? 'custom' : opts.preset;
        const dir = resolve(opts.out ?? join('studies', name));
        const started = performance.now();
        const result = await runStudy({
          spec: specPath,
          dir,
          coresPerJob: opts.coresPerJob,
          maxWorkers: opts.workers,
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
          `report:   ${written.html}${written.pngSkipped ? ` (PNG charts skipped: ${written.pngSkipped})` : ''}`,
        );
        console.log(`took ${((performance.now() - started) / 60000).toFixed(1)} min`);
        if (failures.length > 0) process.exitCode = 1;
      },
    );
}
