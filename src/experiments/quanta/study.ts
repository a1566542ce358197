// The whole quanta study: the width and data sweeps (through the sweep machinery), emergence and order of
// learning on the widest model, the L(N), L(D), L(S) fits beside the predicted exponents, and QDG.

import { cpus } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../../base/atomic-write.ts';
import { type LearningOrder, learningOrder } from './emergence.ts';
import type { QuantaPreset } from './preset.ts';
import { discoverQuanta, type QdgResult } from './qdg/discover.ts';
import { fitScaling, type ScalingFit } from './scaling-fit.ts';
import { runQuantaSweep, type SweepRun } from './sweep.ts';
import type { QuantaRunConfig } from './train.ts';
import { zipfProbabilities } from './zipf.ts';

export interface RunSummary {
  width: number;
  samples: number | null;
  parameters: number;
  testLoss: number;
  bestTestLoss: number;
  tasksLearned: number;
  wallSeconds: number;
}

export interface QuantaResults {
  preset: QuantaPreset;
  machine: { cpu: string; cores: number };
  /** Frequencies of the tasks, by rank. */
  probabilities: number[];
  widthRuns: RunSummary[];
  dataRuns: RunSummary[];
  /** The widest streaming run: its curves and order of learning. */
  emergence: {
    width: number;
    steps: number[];
    testLoss: number[];
    /** Loss curves of the chartTasks most frequent tasks. */
    perTaskLoss: number[][];
    order: Omit<LearningOrder, 'emergences'> & { emergenceSteps: (number | null)[] };
  };
  fits: { N: ScalingFit | null; D: ScalingFit | null; S: ScalingFit | null; errors: string[] };
  qdg: QdgResult | null;
  wallSeconds: number;
}

export interface StudyOptions {
  outDir: string;
  log?: (message: string) => void;
}

function runConfig(
  preset: QuantaPreset,
  width: number,
  samples: number | null,
  steps = preset.train.steps,
): QuantaRunConfig {
  return { task: preset.task, model: { ...preset.model, width }, train: { ...preset.train, samples, steps } };
}

function summarize(run: SweepRun): RunSummary {
  const r = run.result;
  const order = learningOrder(r.curve.steps, r.curve.perTaskLoss);
  return {
    width: run.config.model.width,
    samples: run.config.train.samples,
    parameters: r.parameters,
    testLoss: r.testLoss,
    bestTestLoss: r.bestTestLoss,
    tasksLearned: order.learned,
    wallSeconds: r.wallSeconds,
  };
}

export async function runQuantaStudy(preset: QuantaPreset, options: StudyOptions): Promise<QuantaResults> {
  const started = performance.now();
  const log = options.log ?? (() => {});
  const sweepDir = join(options.outDir, 'sweep');
  const widths = [...preset.sweeps.width.widths].sort((a, b) => a - b);
  const widthConfigs = widths.map((w) => runConfig(preset, w, null));
  const { data } = preset.sweeps;
  const dataConfigs = data.samples.map((d) => runConfig(preset, data.width, d, data.steps));
  // One sweep for both grids, costliest (width x steps) jobs first, so the workers stay busy to the end.
  const all = [...widthConfigs, ...dataConfigs];
  const cost = (c: QuantaRunConfig) => c.model.width * c.train.steps;
  const byCost = [...all.keys()].sort((a, b) => cost(all[b]) - cost(all[a]));
  const sorted = await runQuantaSweep(
    preset.name,
    byCost.map((i) => all[i]),
    sweepDir,
    preset.execution,
    log,
  );
  const runs: SweepRun[] = new Array(all.length);
  byCost.forEach((i, j) => {
    runs[i] = sorted[j];
  });
  const widthRuns = runs.slice(0, widthConfigs.length);
  const dataRuns = runs.slice(widthConfigs.length);

  const widest = widthRuns[widthRuns.length - 1].result;
  const order = learningOrder(widest.curve.steps, widest.curve.perTaskLoss);
  const { emergences, ...orderSummary } = order;

  const fits: QuantaResults['fits'] = { N: null, D: null, S: null, errors: [] };
  const tryFit = (key: 'N' | 'D' | 'S', points: { x: number; loss: number }[]) => {
    try {
      fits[key] = fitScaling(key, points, preset.task.zipfExponent, preset.fit);
    } catch (err) {
      fits.errors.push(`L(${key}): ${(err as Error).message}`);
    }
  };
  // Data-limited and width-limited runs are scored by their best evaluation (early stopping).
  tryFit(
    'N',
    widthRuns.map((r) => ({ x: r.result.parameters, loss: r.result.bestTestLoss })),
  );
  tryFit(
    'D',
    dataRuns.map((r) => ({ x: r.config.train.samples!, loss: r.result.bestTestLoss })),
  );
  tryFit(
    'S',
    widest.curve.steps.map((s, i) => ({ x: s, loss: widest.curve.testLoss[i] })),
  );

  let qdg: QdgResult | null = null;
  if (preset.qdg?.enabled) qdg = discoverQuanta(preset.qdg, options.outDir, log);

  const results: QuantaResults = {
    preset,
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length },
    probabilities: [...zipfProbabilities(preset.task.nTasks, preset.task.zipfExponent)],
    widthRuns: widthRuns.map(summarize),
    dataRuns: dataRuns.map(summarize),
    emergence: {
      width: widths[widths.length - 1],
      steps: widest.curve.steps,
      testLoss: widest.curve.testLoss,
      perTaskLoss: widest.curve.perTaskLoss.slice(0, preset.chartTasks),
      order: { ...orderSummary, emergenceSteps: emergences.map((e) => e.step) },
    },
    fits,
    qdg,
    wallSeconds: (performance.now() - started) / 1000,
  };
  writeFileAtomic(join(options.outDir, 'quanta-results.json'), `${JSON.stringify(results, null, 1)}\n`);
  return results;
}
