// Loading a local Hugging Face model folder (config.json, model.safetensors or a sharded index,
// tokenizer.json) as a bitscale model: a ModelConfig with `arch` options and Params under bitscale's names,
// ready for forward, evaluation, PTQ and export. Everything that can be wrong is checked before tensor
// data is read: the config's options, the shard files, every tensor's name and shape, the tokenizer.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import '../backends/index.ts';
import type { ModelConfig } from '../nn/config.ts';
import type { Params } from '../nn/transformer.ts';
import * as T from '../tensor/index.ts';
import { hfArchitectures, supportedClasses } from './architectures.ts';
import { ConfigReader } from './config-fields.ts';
import { HfModelError, show } from './errors.ts';
import { extractPart, type HfArchitecture, type TensorMapping } from './mapping.ts';
import { type HfTokenizer, loadHfTokenizer } from './tokenizer.ts';
import { checkWeights, readTensorF32, readWeightIndex } from './weights.ts';

export interface HfModel {
  dir: string;
  /** The transformers class it was saved as, e.g. 'LlamaForCausalLM'. */
  className: string;
  modelType: string;
  config: ModelConfig;
  params: Params;
  tokenizer: HfTokenizer | null;
}

export interface LoadOptions {
  backend?: string;
  /** Each tensor as it is read (progress for large checkpoints). */
  onTensor?: (name: string, done: number, total: number) => void;
}

/** Reads config.json and picks the architecture; refuses what it does not know, by name. */
export function readHfConfig(dir: string): {
  arch: HfArchitecture;
  config: ModelConfig;
  className: string;
  modelType: string;
} {
  const path = join(dir, 'config.json');
  if (!existsSync(path))
    throw new HfModelError(dir, 'config.json', 'missing: not a Hugging Face model folder');
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new HfModelError(path, 'file', `not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new HfModelError(path, 'file', 'is not a JSON object');
  const r = new ConfigReader(json as Record<string, unknown>, path);
  const classes = r.raw('architectures');
  const modelType = r.raw('model_type');
  if (!Array.isArray(classes) || classes.length !== 1 || typeof classes[0] !== 'string')
    return r.fail(
      'architectures',
      `${show(classes)}: expected one model class (supported: ${supportedClasses.join(', ')})`,
    );
  const className = classes[0] as string;
  const arch = hfArchitectures.find((a) => a.classes.includes(className));
  if (!arch)
    return r.fail(
      'architectures',
      `${show(className)} is not supported (supported: ${supportedClasses.join(', ')})`,
    );
  if (!arch.modelTypes.includes(modelType as string))
    r.fail(
      'model_type',
      `${show(modelType)} does not go with ${className} (expected ${arch.modelTypes.join(' or ')})`,
    );
  const config = arch.modelConfig(r);
  r.refuseUnknown();
  return { arch, config, className, modelType: modelType as string };
}

/** The tensor mappings of a folder's checkpoint, checked against its headers (no tensor data read). */
export function planHfWeights(dir: string, arch: HfArchitecture, config: ModelConfig) {
  const index = readWeightIndex(dir);
  const mappings = arch.tensors(config, new Set(index.tensors.keys()));
  checkWeights(index, mappings, arch.ignored);
  return { index, mappings };
}

export function loadHfModel(dir: string, options: LoadOptions = {}): HfModel {
  const { arch, config, className, modelType } = readHfConfig(dir);
  const tokenizerPath = join(dir, 'tokenizer.json');
  const tokenizer = existsSync(tokenizerPath) ? loadHfTokenizer(tokenizerPath) : null;
  if (tokenizer && tokenizer.vocabSize > config.vocabSize)
    throw new HfModelError(
      tokenizerPath,
      'model.vocab',
      `${tokenizer.vocabSize} tokens, more than config.json's vocab_size ${config.vocabSize}`,
    );
  const { index, mappings } = planHfWeights(dir, arch, config);
  if (options.backend) T.setDefaultBackend(options.backend);
  const params: Params = new Map();
  let done = 0;
  const total = mappings.length;
  try {
    for (const m of mappings) {
      if (m.parts.length > 0) addParts(params, m, readTensorF32(index, m.hf));
      options.onTensor?.(m.hf, ++done, total);
    }
  } catch (e) {
    for (const p of params.values()) p.dispose();
    throw e;
  }
  return { dir, className, modelType, config, params, tokenizer };
}

function addParts(params: Params, m: TensorMapping, data: Float32Array): void {
  for (const { name, rows } of m.parts) {
    const part = extractPart(m, data, rows);
    const shape =
      m.shape.length === 1 ? [rows[1] - rows[0]] : [rows[1] - rows[0], part.length / (rows[1] - rows[0])];
    const t = T.tensor(part, shape).keep();
    t.name = name;
    params.set(name, t);
  }
}
