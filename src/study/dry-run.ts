// `bitscale study --dry-run`: a study's jobs and what they will cost, with nothing run or written.
import { readFileSync } from 'node:fs';
import { expandSweep, recipeOf, type TrainConfig } from '../sweep/expand.ts';
import { loadSweepSpec } from '../sweep/spec.ts';
import { estimateJobs, type StudyEstimate, type Throughput } from './estimate.ts';
import { studyBackend } from './run-config.ts';
import { studyValidator } from './validator.ts';

export interface DryRun {
  name: string;
  jobs: { id: string; kind: string; summary: string }[];
  backends: string[];
  /** Null without measured throughput. */
  estimate: StudyEstimate | null;
  throughputFrom: string | null;
}

/** The jobs of a spec, and their cost from the throughput recorded in `throughputPath` (a study's throughput.json). */
export function dryRunStudy(specPath: string, throughputPath?: string): DryRun {
  const spec = loadSweepSpec(specPath, studyValidator);
  const jobs = expandSweep(spec);
  let throughput: Throughput | null = null;
  if (throughputPath !== undefined) {
    try {
      throughput = JSON.parse(readFileSync(throughputPath, 'utf8')) as Throughput;
    } catch (e) {
      throw new Error(
        `--throughput: cannot read ${throughputPath} (${(e as Error).message}); give a throughput.json that a study wrote`,
      );
    }
    if (!(throughput.flopsPerSecond > 0))
      throw new Error(`--throughput: ${throughputPath} has no positive flopsPerSecond`);
  }
  return {
    name: spec.name,
    jobs: jobs.map((j) => ({ id: j.id, kind: j.kind, summary: summarize(j.kind, j.config) })),
    backends: [
      ...new Set(
        jobs.filter((j) => j.kind === 'train').map((j) => studyBackend(j.config as TrainConfig) ?? 'cpu'),
      ),
    ],
    estimate: throughput ? estimateJobs(jobs, throughput) : null,
    throughputFrom: throughput ? (throughputPath ?? null) : null,
  };
}

function summarize(kind: string, config: Record<string, unknown>): string {
  if (kind === 'train') {
    const c = config as TrainConfig;
    const m = c.model as Record<string, unknown>;
    const p = c.precision;
    const recipe = recipeOf(c);
    return `d${m.d_model ?? m.dModel} L${m.n_layers ?? m.nLayers} D=${c.tokens} w=${p.w} a=${p.a} kv=${p.kv} seed ${c.seed}${recipe ? ` ${JSON.stringify(recipe)}` : ''}`;
  }
  if (kind === 'ptq') return `${config.method} ${config.precision} of ${config.source}`;
  return kind;
}
