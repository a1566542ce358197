// One way in for every model bitscale evaluates on a text: a Hugging Face folder (config.json naming
// `architectures`) or a bitscale run folder. Both give a ModelConfig, Params and transformers-style encode.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isExportFile, readExport } from '../export/read-export.ts';
import type { ModelConfig } from '../nn/config.ts';
import type { Params } from '../nn/transformer.ts';
import * as T from '../tensor/index.ts';
import { loadRun } from '../train/run.ts';
import { HfModelError } from './errors.ts';
import { type LoadOptions, loadHfModel } from './load.ts';
import { hfTokenizerFromText } from './tokenizer.ts';

export interface OpenModel {
  path: string;
  /** 'hf:LlamaForCausalLM', 'bitscale-run'. */
  kind: string;
  config: ModelConfig;
  params: Params;
  encode: ((text: string) => number[]) | null;
}

export function isHfFolder(path: string): boolean {
  const configPath = join(path, 'config.json');
  if (!existsSync(configPath)) return false;
  try {
    return Array.isArray(JSON.parse(readFileSync(configPath, 'utf8')).architectures);
  } catch {
    return false;
  }
}

export function openModel(path: string, options: LoadOptions = {}): OpenModel {
  if (isExportFile(path)) {
    if (options.backend) T.setDefaultBackend(options.backend);
    const m = readExport(path);
    const tokenizer =
      m.tokenizerJson === null ? null : hfTokenizerFromText(m.tokenizerJson, `${path} (metadata)`);
    return {
      path,
      kind: `export:${m.layout}`,
      config: m.config,
      params: m.params,
      encode: tokenizer ? tokenizer.encode : null,
    };
  }
  if (isHfFolder(path)) {
    const m = loadHfModel(path, options);
    return {
      path,
      kind: `hf:${m.className}`,
      config: m.config,
      params: m.params,
      encode: m.tokenizer ? m.tokenizer.encode : null,
    };
  }
  if (!existsSync(join(path, 'config.json')))
    throw new HfModelError(
      path,
      'config.json',
      'missing: neither a Hugging Face model folder nor a bitscale run',
    );
  const run = loadRun(path, options.backend);
  const tokenizer = run.tokenizer;
  return {
    path,
    kind: 'bitscale-run',
    config: run.config.model,
    params: run.params,
    encode: tokenizer ? (text) => tokenizer.encode(text) : null,
  };
}
