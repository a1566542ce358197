// The library function behind `bitscale quanta`: load a preset, run the study, write the results JSON,
// the report section (HTML fragment + SVGs) and a one-screen summary.

import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../../base/atomic-write.ts';
import { QuantaConfigError } from './errors.ts';
import { loadQuantaPreset, type QuantaPreset } from './preset.ts';
import { quantaReportSection } from './report-section.ts';
import { type QuantaResults, runQuantaStudy } from './study.ts';

export interface QuantaCommandOptions {
  preset: string;
  out: string;
  executor?: string;
  workers?: number;
  /** Skip QDG (e.g. for a quick look at the toy world alone). */
  noQdg?: boolean;
  log?: (message: string) => void;
}

export async function runQuantaCommand(options: QuantaCommandOptions): Promise<QuantaResults> {
  const base = loadQuantaPreset(options.preset);
  const preset: QuantaPreset = {
    ...base,
    execution: {
      executor: (options.executor ?? base.execution.executor) as QuantaPreset['execution']['executor'],
      workers: options.workers ?? base.execution.workers,
    },
    qdg: options.noQdg || !base.qdg ? null : base.qdg,
  };
  if (preset.execution.executor !== 'local' && preset.execution.executor !== 'in-process') {
    throw new QuantaConfigError('--executor', options.executor, "'local' or 'in-process'");
  }
  const out = resolve(options.out);
  const results = await runQuantaStudy(preset, { outDir: out, log: options.log });
  const section = quantaReportSection(results);
  for (const [name, svg] of Object.entries(section.svgs)) writeFileAtomic(join(out, name), svg);
  writeFileAtomic(join(out, 'quanta-section.html'), `${section.html}\n`);
  writeFileAtomic(join(out, 'quanta-summary.json'), `${JSON.stringify(summaryOf(results), null, 2)}\n`);
  return results;
}

/** The headline numbers (what the README records). */
export function summaryOf(r: QuantaResults) {
  const fit = (k: 'N' | 'D' | 'S') => {
    const f = r.fits[k];
    return f && { measured: f.exponent, interval: f.interval, predicted: f.predicted };
  };
  return {
    tasksLearned: r.emergence.order.learned,
    spearmanLearned: r.emergence.order.rhoLearned,
    spearmanAll: r.emergence.order.rhoAll,
    abruptFraction: r.emergence.order.abruptFraction,
    emergenceSteps: r.emergence.order.emergenceSteps.slice(0, 20),
    alphaN: fit('N'),
    alphaD: fit('D'),
    alphaS: fit('S'),
    widthRuns: r.widthRuns,
    dataRuns: r.dataRuns,
    qdg: r.qdg && {
      tokens: r.qdg.tokens,
      clusters: r.qdg.clusters.length,
      zipfExponent: r.qdg.rankFrequency.zipfExponent,
      sizes: r.qdg.rankFrequency.sizes,
      seconds: r.qdg.seconds,
    },
    fitErrors: r.fits.errors,
    wallSeconds: r.wallSeconds,
    machine: r.machine,
  };
}
