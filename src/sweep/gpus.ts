// Which GPUs this machine has, and which of them a sweep may use. Local workers get one GPU each through
// CUDA_VISIBLE_DEVICES, so a job always sees its GPU as device 0 and never touches its neighbours'.
import { execFileSync } from 'node:child_process';
import { SweepError } from './errors.ts';

export class GpuSelectionError extends SweepError {
  override name = 'GpuSelectionError';
}

/** GPU ids this process may use: $CUDA_VISIBLE_DEVICES when set, else every GPU nvidia-smi lists. */
export function visibleGpus(env: NodeJS.ProcessEnv = process.env): string[] {
  const visible = env.CUDA_VISIBLE_DEVICES;
  if (visible !== undefined) {
    return visible
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '' && s !== '-1');
  }
  try {
    const out = execFileSync('nvidia-smi', ['--query-gpu=index', '--format=csv,noheader'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 10_000,
    });
    return out
      .split('\n')
      .map((s) => s.trim())
      .filter((s) => /^\d+$/.test(s));
  } catch {
    return []; // no driver, no nvidia-smi: no GPUs
  }
}

/**
 * The GPUs a sweep runs on: `--gpus 0,1` checked against the visible ones (each an id from visibleGpus),
 * 'all' or undefined for every visible GPU, 'none' for none.
 */
export function selectGpus(wanted: string | undefined, visible: string[] = visibleGpus()): string[] {
  if (wanted === undefined || wanted === 'all') return visible;
  if (wanted === 'none') return [];
  const ids = wanted.split(',').map((s) => s.trim());
  const allowed = visible.length ? visible.join(', ') : 'none: no GPU is visible on this machine';
  for (const id of ids) {
    if (!visible.includes(id))
      throw new GpuSelectionError(
        `--gpus: GPU ${JSON.stringify(id)} does not exist here (visible: ${allowed})`,
      );
  }
  if (new Set(ids).size !== ids.length)
    throw new GpuSelectionError(`--gpus: ${JSON.stringify(wanted)} names a GPU twice`);
  return ids;
}
