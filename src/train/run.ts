// Opening a finished (or interrupted) run folder: its config, parameters and tokenizer.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTokenizer, type Tokenizer } from '../data/index.ts';
import '../backends/index.ts';
import { ConfigError } from '../nn/config.ts';
import { initParams, type Params } from '../nn/transformer.ts';
import * as T from '../tensor/index.ts';
import { loadCheckpoint } from './checkpoint.ts';
import { type RunConfig, resolveRunConfig } from './config.ts';

export interface LoadedRun {
  config: RunConfig;
  params: Params;
  tokenizer: Tokenizer | null;
  step: number;
}

/** Loads a run folder (or a checkpoint file inside one). */
export function loadRun(path: string, backend?: string): LoadedRun {
  const dir = path.endsWith('.safetensors') ? join(path, '..') : path;
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) throw new Error(`${dir} is not a run folder (no config.json)`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(configPath, 'utf8'));
  } catch (e) {
    throw new ConfigError('config', `not valid JSON (${(e as Error).message})`, configPath);
  }
  const config = resolveRunConfig(raw, configPath);
  if (backend) T.setDefaultBackend(backend);
  const params = initParams(config.model, config.train.seed);
  const checkpoint = path.endsWith('.safetensors') ? path : join(dir, 'checkpoint.safetensors');
  const { step } = loadCheckpoint(checkpoint, params, null);
  const tokenizerPath = join(dir, 'tokenizer.json');
  const tokenizer = existsSync(tokenizerPath) ? loadTokenizer(tokenizerPath) : null;
  return { config, params, tokenizer, step };
}

/** Reads a run config from JSON or YAML text, applying `key.path=value` overrides. */
export function parseOverrides(raw: Record<string, unknown>, overrides: string[]): Record<string, unknown> {
  const result = structuredClone(raw);
  for (const o of overrides) {
    const eq = o.indexOf('=');
    if (eq < 0) throw new ConfigError('--set', `${JSON.stringify(o)} must look like key.path=value`);
    const keys = o.slice(0, eq).split('.');
    // Keys are written into plain objects: names that reach a prototype are refused, not followed.
    if (keys.some((k) => k === '' || k === '__proto__' || k === 'constructor' || k === 'prototype'))
      throw new ConfigError('--set', `${JSON.stringify(o)}: the key path must be names like train.tokens`);
    const text = o.slice(eq + 1);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = text;
    }
    let node = result as Record<string, unknown>;
    for (const [i, k] of keys.slice(0, -1).entries()) {
      node[k] ??= {};
      if (typeof node[k] !== 'object' || node[k] === null || Array.isArray(node[k]))
        throw new ConfigError(
          '--set',
          `${JSON.stringify(o)}: ${keys.slice(0, i + 1).join('.')} is not a section`,
        );
      node = node[k] as Record<string, unknown>;
    }
    node[keys[keys.length - 1]] = value;
  }
  return result;
}
