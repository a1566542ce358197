// A checkpoint is one safetensors file (parameters, AdamW moments, and the step in its metadata) next to the
// run's config.json. Written atomically with a checksum, so a run resumes from the last good state or not at all.
import { existsSync } from 'node:fs';
import { CheckpointError, readSafetensors, type SafeTensor, writeSafetensors } from '../io/safetensors.ts';
import type { Params } from '../nn/transformer.ts';
import type { Tensor } from '../tensor/index.ts';
import type { AdamW } from './adamw.ts';

export interface CheckpointState {
  step: number;
  configHash: string;
}

function toSafe(t: Tensor): SafeTensor {
  return { dtype: 'F32', shape: t.shape.slice(), data: Float32Array.from(t.toArray()) };
}

export function saveCheckpoint(
  path: string,
  params: Params,
  optimizer: AdamW | null,
  state: CheckpointState,
): void {
  const tensors = new Map<string, SafeTensor>();
  for (const [name, p] of params) tensors.set(name, toSafe(p));
  if (optimizer) {
    for (const [name, m] of optimizer.m) tensors.set(`optimizer.m.${name}`, toSafe(m));
    for (const [name, v] of optimizer.v) tensors.set(`optimizer.v.${name}`, toSafe(v));
  }
  writeSafetensors(path, tensors, {
    format: 'pt',
    'bitscale.step': String(state.step),
    'bitscale.optimizer_step': String(optimizer?.step ?? 0),
    'bitscale.config_hash': state.configHash,
  });
}

function copyInto(t: Tensor, data: SafeTensor, path: string, name: string): void {
  if (data.shape.join(',') !== t.shape.join(',')) {
    throw new CheckpointError(path, `${name} has shape [${data.shape}], the model expects [${t.shape}]`);
  }
  t.backend.write(t.handle, 'f32', data.data);
}

/** Loads parameters (and optimizer state when given) in place; returns the saved state. */
export function loadCheckpoint(path: string, params: Params, optimizer: AdamW | null): CheckpointState {
  const file = readSafetensors(path);
  const take = (name: string) => {
    const t = file.tensors.get(name);
    if (!t) throw new CheckpointError(path, `missing tensor ${name}`);
    return t;
  };
  for (const [name, p] of params) copyInto(p, take(name), path, name);
  if (optimizer) {
    for (const [name, m] of optimizer.m)
      copyInto(m, take(`optimizer.m.${name}`), path, `optimizer.m.${name}`);
    for (const [name, v] of optimizer.v)
      copyInto(v, take(`optimizer.v.${name}`), path, `optimizer.v.${name}`);
    optimizer.step = Number(file.metadata['bitscale.optimizer_step'] ?? 0);
  }
  return {
    step: Number(file.metadata['bitscale.step'] ?? 0),
    configHash: file.metadata['bitscale.config_hash'] ?? '',
  };
}

export const hasCheckpoint = (path: string) => existsSync(path);
