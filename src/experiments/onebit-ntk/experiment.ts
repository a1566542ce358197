// The whole experiment behind `bitscale onebit-ntk`: expand the preset, run its sweeps (as sweep jobs, so
// finished runs are reused), fit the power laws, and write results.json, the report section and its SVGs.

import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../../base/atomic-write.ts';
import { analyzeRuns, type OnebitNtkAnalysis, type SweepRuns } from './analysis.ts';
import { type ExperimentPreset, expandPreset } from './preset.ts';
import { onebitNtkReportSection } from './report-section.ts';
import { onebitNtkJob, runOnebitNtkSweep } from './sweep.ts';

export interface OnebitNtkResults {
  preset: ExperimentPreset;
  runs: SweepRuns;
  analysis: OnebitNtkAnalysis;
  seconds: number;
  command?: string;
}

export interface ExperimentOptions {
  /** Output directory: sweep/ (jobs, run store, runs), results.json, report.html, *.svg. */
  out: string;
  log?: (message: string) => void;
  /** Recorded in the results and the report. */
  command?: string;
}

export async function runOnebitNtkExperiment(
  preset: ExperimentPreset,
  options: ExperimentOptions,
): Promise<OnebitNtkResults> {
  const started = performance.now();
  const out = resolve(options.out);
  const sweeps = expandPreset(preset);
  const all = [...sweeps.width, ...sweeps.data, ...sweeps.steps];
  const results = await runOnebitNtkSweep(preset.name, all, join(out, 'sweep'), preset, options.log);
  const pick = (configs: typeof all) => configs.map((c) => results.get(onebitNtkJob(c).id)!);
  const runs: SweepRuns = { width: pick(sweeps.width), data: pick(sweeps.data), steps: pick(sweeps.steps) };
  const analysis = analyzeRuns(runs, { bootstrap: preset.bootstrap });
  const report: OnebitNtkResults = {
    preset,
    runs,
    analysis,
    seconds: (performance.now() - started) / 1000,
    command: options.command,
  };
  writeResults(out, report);
  return report;
}

export function writeResults(out: string, results: OnebitNtkResults): void {
  writeFileAtomic(join(out, 'results.json'), `${JSON.stringify(results, null, 1)}\n`);
  const section = onebitNtkReportSection(results);
  for (const [name, svg] of Object.entries(section.svgs)) writeFileAtomic(join(out, `${name}.svg`), svg);
  const page = `<!doctype html><html><head><meta charset="utf-8"><title>${section.title}</title></head><body>\n${section.html}\n</body></html>\n`;
  writeFileAtomic(join(out, 'report.html'), page);
}
