// The experiment as data: a base run config and three sweeps around it (width, training-set size, steps),
// over seeds. Presets live in experiments/<name>.json; `expandPreset` turns one into run configs.

import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type RunConfig, resolveRunConfig } from './config.ts';
import { OnebitNtkConfigError } from './errors.ts';

export interface ExperimentPreset {
  name: string;
  /** Overrides of the default run config shared by every run. */
  base: Partial<RunConfig>;
  seeds: number[];
  /** Width sweep at the base training-set size and steps. */
  widths: number[];
  /** Data sweep: training-set sizes at one width. */
  data: { width: number; nTrain: number[] };
  /** Step sweep: step counts at one width. */
  steps: { width: number; steps: number[] };
  /** Bootstrap resamples for every fitted exponent. */
  bootstrap: number;
  /** 'local': sweep worker processes; 'in-process': one job after another in this process. */
  executor: 'local' | 'in-process';
  workers: number;
}

export interface ExpandedPreset {
  width: RunConfig[];
  data: RunConfig[];
  steps: RunConfig[];
}

const presetDir = fileURLToPath(new URL('../../../experiments/', import.meta.url));

/** A preset by name (experiments/<name>.json) or by path to a JSON file. */
export function loadPreset(nameOrPath: string): ExperimentPreset {
  const path = nameOrPath.endsWith('.json') ? nameOrPath : `${presetDir}${nameOrPath}.json`;
  if (!existsSync(path))
    throw new OnebitNtkConfigError('preset', nameOrPath, `a preset name in ${presetDir} or a .json file`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new OnebitNtkConfigError('preset', path, `valid JSON (${(err as Error).message})`);
  }
  return validatePreset(raw);
}

const positiveIntegers = (field: string, value: unknown): number[] => {
  if (!Array.isArray(value) || value.length === 0 || !value.every((v) => Number.isInteger(v) && v > 0)) {
    throw new OnebitNtkConfigError(field, value, 'a non-empty list of positive whole numbers');
  }
  return value as number[];
};

export function validatePreset(raw: unknown): ExperimentPreset {
  if (typeof raw !== 'object' || raw === null) throw new OnebitNtkConfigError('preset', raw, 'a JSON object');
  const p = raw as Record<string, unknown>;
  const base = (p.base ?? {}) as Partial<RunConfig>;
  resolveRunConfig(base); // names the bad field early
  const data = (p.data ?? {}) as Record<string, unknown>;
  const steps = (p.steps ?? {}) as Record<string, unknown>;
  const executor = p.executor ?? 'local';
  if (executor !== 'local' && executor !== 'in-process') {
    throw new OnebitNtkConfigError('executor', executor, "'local' or 'in-process'");
  }
  const seeds = p.seeds ?? [0];
  if (!Array.isArray(seeds) || seeds.length === 0 || !seeds.every((s) => Number.isInteger(s) && s >= 0)) {
    throw new OnebitNtkConfigError('seeds', seeds, 'a non-empty list of whole numbers >= 0');
  }
  const bootstrap = p.bootstrap ?? 200;
  if (!Number.isInteger(bootstrap) || (bootstrap as number) < 0) {
    throw new OnebitNtkConfigError('bootstrap', bootstrap, 'a whole number >= 0');
  }
  const workers = p.workers ?? 2;
  if (!Number.isInteger(workers) || (workers as number) < 1) {
    throw new OnebitNtkConfigError('workers', workers, 'a whole number >= 1');
  }
  return {
    name: typeof p.name === 'string' ? p.name : 'onebit-ntk',
    base,
    seeds: seeds as number[],
    widths: positiveIntegers('widths', p.widths),
    data: {
      width: positiveIntegers('data.width', [data.width])[0],
      nTrain: positiveIntegers('data.nTrain', data.nTrain),
    },
    steps: {
      width: positiveIntegers('steps.width', [steps.width])[0],
      steps: positiveIntegers('steps.steps', steps.steps),
    },
    bootstrap: bootstrap as number,
    executor,
    workers: workers as number,
  };
}

/** Every run of the three sweeps (a run may belong to several; the sweep runner dedupes by config). */
export function expandPreset(preset: ExperimentPreset): ExpandedPreset {
  const runs = (vary: (seed: number) => Partial<RunConfig>[]) =>
    preset.seeds.flatMap((seed) => vary(seed).map((o) => resolveRunConfig({ ...preset.base, seed, ...o })));
  return {
    width: runs(() => preset.widths.map((width) => ({ width }))),
    data: runs(() => preset.data.nTrain.map((nTrain) => ({ width: preset.data.width, nTrain }))),
    steps: runs(() => preset.steps.steps.map((steps) => ({ width: preset.steps.width, steps }))),
  };
}
