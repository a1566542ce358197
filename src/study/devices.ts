// Where a study's jobs run. A spec that names a backend gets it for every job, or the study is refused before
// any job starts: a study never falls back to another backend behind the user's back (its numbers would mean
// something else). GPU jobs (training on cuda, and the PTQ of such runs) get one GPU each.
import { existsSync } from 'node:fs';
import { loadCpuAddon } from '../backends/cpu/load-addon.ts';
import { cudaAddonPath } from '../backends/cuda/load-addon.ts';
import type { TrainConfig } from '../sweep/expand.ts';
import { visibleGpus } from '../sweep/gpus.ts';
import type { Job } from '../sweep/job.ts';
import type { SweepPlan } from '../sweep/plan.ts';
import { studyBackend } from './run-config.ts';

export class StudyDeviceError extends Error {
  override name = 'StudyDeviceError';
}

const knownBackends = ['cpu', 'cuda', 'js'];

/** The backend every job of the plan's training runs names ('cpu' where the spec names none). */
export function planBackends(plan: SweepPlan): Set<string> {
  return new Set(
    plan.jobs.filter((j) => j.kind === 'train').map((j) => studyBackend(j.config as TrainConfig) ?? 'cpu'),
  );
}

/** Throws, naming the backend and how to get it, unless every backend the plan needs can run here. */
export function checkBackends(plan: SweepPlan, gpus: string[] = visibleGpus()): void {
  for (const name of planBackends(plan)) {
    if (!knownBackends.includes(name))
      throw new StudyDeviceError(
        `train.backend: ${JSON.stringify(name)} is not a backend (allowed: ${knownBackends.join(', ')})`,
      );
    if (name === 'cuda') {
      if (!existsSync(cudaAddonPath()))
        throw new StudyDeviceError(
          `train.backend: cuda, but the CUDA addon is not built (no ${cudaAddonPath()}); build it with \`npm run build:cuda\` (or \`bash native/cuda/build.sh\`) on a machine with nvcc and an NVIDIA GPU`,
        );
      if (gpus.length === 0)
        throw new StudyDeviceError('train.backend: cuda, but no GPU is visible here (nvidia-smi lists none)');
    }
    if (name === 'cpu') {
      const loaded = loadCpuAddon();
      if ('error' in loaded)
        throw new StudyDeviceError(
          `train.backend: cpu (the default), but ${loaded.error}; or name backend: js in the spec to run on the slow reference backend`,
        );
    }
  }
}

/** Jobs that need a GPU: cuda training runs and the jobs that consume them (their PTQ). */
export function gpuJobs(plan: SweepPlan): (job: Job) => boolean {
  const byId = new Map(plan.jobs.map((j) => [j.id, j]));
  const onGpu = (job: Job): boolean =>
    job.kind === 'train'
      ? studyBackend(job.config as TrainConfig) === 'cuda'
      : job.deps.some((d) => {
          const dep = byId.get(d);
          return dep !== undefined && onGpu(dep);
        });
  return onGpu;
}
