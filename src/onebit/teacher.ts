// The full-precision teacher of a OneBit student: a finished bitscale run folder (src/train/trainer.ts),
// checked before anything loads, so a wrong path fails at once and names itself.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type LoadedRun, loadRun } from '../train/run.ts';
import { TeacherRunError } from './errors.ts';

export interface Teacher extends LoadedRun {
  /** The run folder, absolute. */
  dir: string;
  /** Validation loss (nats/token) the teacher's own run recorded. */
  valLoss: number;
}

/** Loads a finished, non-diverged run folder onto `backend` (the engine's default when absent). */
export function openTeacher(path: string, backend?: string): Teacher {
  const dir = resolve(path);
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new TeacherRunError(dir, 'is not a folder (expected a finished run folder)');
  for (const file of ['config.json', 'checkpoint.safetensors'])
    if (!existsSync(join(dir, file)))
      throw new TeacherRunError(
        dir,
        `is not a run folder: no ${file} (expected what \`bitscale train\` writes)`,
      );
  const summaryPath = join(dir, 'summary.json');
  if (!existsSync(summaryPath))
    throw new TeacherRunError(dir, 'is not finished: no summary.json (let its training complete first)');
  let summary: { status?: unknown; valLoss?: unknown };
  try {
    summary = JSON.parse(readFileSync(summaryPath, 'utf8'));
  } catch (e) {
    throw new TeacherRunError(dir, `summary.json is not valid JSON (${(e as Error).message})`);
  }
  if (summary.status !== 'done')
    throw new TeacherRunError(
      dir,
      `is not finished: summary.json status ${JSON.stringify(summary.status)}, expected "done"`,
    );
  if (typeof summary.valLoss !== 'number' || !Number.isFinite(summary.valLoss))
    throw new TeacherRunError(
      dir,
      `summary.json valLoss ${JSON.stringify(summary.valLoss)} is not a finite number`,
    );
  const run = loadRun(dir, backend);
  if (run.config.model.onebit)
    throw new TeacherRunError(dir, 'is a OneBit model itself; the teacher must be full precision');
  return { ...run, dir, valLoss: summary.valLoss };
}
