// The quanta study's settings (experiments/quanta.json): the task, the model family, shared training
// settings, the width and data sweeps, the fits, QDG and how jobs execute. Every field is checked with
// an error naming its path.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { integerIn, QuantaConfigError } from './errors.ts';
import { type MlpConfig, validateMlp } from './mlp.ts';
import { type QdgSettings, validateQdg } from './qdg/discover.ts';
import type { FitSettings } from './scaling-fit.ts';
import { type SparseParityConfig, validateSparseParity } from './sparse-parity.ts';
import type { ExecutionSettings } from './sweep.ts';
import { type QuantaTrainSettings, validateTrainSettings } from './train.ts';

export interface QuantaPreset {
  name: string;
  task: SparseParityConfig;
  /** Depth and activation; the width comes from the sweeps. */
  model: Omit<MlpConfig, 'width'>;
  /** Shared training settings; `samples` is null (streaming) unless a data sweep sets it. */
  train: Omit<QuantaTrainSettings, 'samples'>;
  sweeps: {
    /** N: widths trained on fresh samples for train.steps steps. */
    width: { widths: number[] };
    /** D: fixed training sets of these sizes, at one width, repeated for `steps` (default train.steps). */
    data: { width: number; samples: number[]; steps?: number };
  };
  fit: FitSettings;
  /** Analyse the emergence of this many most frequent tasks in the charts (all tasks are in the results). */
  chartTasks: number;
  qdg: (QdgSettings & { enabled: boolean }) | null;
  execution: ExecutionSettings;
}

export const presetDir = join(dirname(fileURLToPath(import.meta.url)), '../../../experiments');

/** Reads a preset by name (experiments/<name>.json) or by path. */
export function loadQuantaPreset(nameOrPath: string): QuantaPreset {
  const path = nameOrPath.endsWith('.json') ? nameOrPath : join(presetDir, `${nameOrPath}.json`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new QuantaConfigError('preset', nameOrPath, `a readable JSON file (${(err as Error).message})`);
  }
  return validatePreset(raw as QuantaPreset);
}

export function validatePreset(p: QuantaPreset): QuantaPreset {
  if (typeof p !== 'object' || p === null) throw new QuantaConfigError('preset', p, 'an object');
  validateSparseParity(p.task);
  validateMlp({ ...p.model, width: 1 });
  validateTrainSettings({ ...p.train, samples: null });
  const widths = p.sweeps?.width?.widths;
  if (!Array.isArray(widths) || widths.length === 0) {
    throw new QuantaConfigError('sweeps.width.widths', widths, 'a non-empty list of integers >= 1');
  }
  for (const [i, w] of widths.entries()) integerIn(`sweeps.width.widths[${i}]`, w, 1);
  integerIn('sweeps.data.width', p.sweeps.data?.width, 1);
  if (p.sweeps.data.steps !== undefined)
    integerIn('sweeps.data.steps', p.sweeps.data.steps, p.train.evalEvery);
  const samples = p.sweeps.data.samples;
  if (!Array.isArray(samples))
    throw new QuantaConfigError('sweeps.data.samples', samples, 'a list of integers >= 1');
  for (const [i, d] of samples.entries()) integerIn(`sweeps.data.samples[${i}]`, d, 1);
  integerIn('fit.bootstrap', p.fit?.bootstrap, 0);
  integerIn('fit.seed', p.fit.seed, 0);
  integerIn('chartTasks', p.chartTasks, 1, p.task.nTasks);
  if (p.qdg?.enabled) validateQdg(p.qdg);
  if (p.execution?.executor !== 'local' && p.execution?.executor !== 'in-process') {
    throw new QuantaConfigError('execution.executor', p.execution?.executor, "'local' or 'in-process'");
  }
  integerIn('execution.workers', p.execution.workers, 1);
  return p;
}
