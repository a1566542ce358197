// A packed model that decodes on its own: the packed safetensors file (packed-file.ts) carrying the model
// config ("bitscale.model") and the run's tokenizer ("bitscale.tokenizer") in its metadata. `packRun` makes
// one from a trained bitscale run folder; `openPackedModel` reads one back; `samplePacked` generates text
// (what `bitscale sample <packed.safetensors>` runs).

import { philoxFill } from '../base/philox.ts';
import type { Tokenizer } from '../data/index.ts';
import { tokenizerFromJson, toTokenizerJson } from '../data/index.ts';
import { CheckpointError } from '../io/safetensors.ts';
import { type ModelConfig, resolveModelConfig } from '../nn/config.ts';
import * as T from '../tensor/index.ts';
import { pick } from '../train/generate.ts';
import { loadRun } from '../train/run.ts';
import { Decoder, type PackedKernel, packedDecoderWeights } from './decode.ts';
import { packedDeviceDecoder } from './device-decode.ts';
import { type PackOptions, packOnebitParams, packTransformer } from './pack-model.ts';
import {
  type PackedBits,
  type PackedModel,
  packedModelBits,
  readPackedModel,
  type ValueDType,
  writePackedModel,
} from './packed-file.ts';

export const MODEL_KEY = 'bitscale.model';
export const TOKENIZER_KEY = 'bitscale.tokenizer';

/** Packs a run folder (or its checkpoint) into `out`: every linear layer 1-bit with SVID value vectors. */
export function packRun(
  run: string,
  out: string,
  options: PackOptions & { valueDtype?: ValueDType } = {},
): PackedBits {
  const { config, params, tokenizer } = loadRun(run);
  // A trained OneBit model (a distilled student) already has its signs and value vectors: packed as they are.
  const weights = new Map(
    [...params].map(([name, t]) => [name, { shape: t.shape.slice(), data: Float32Array.from(t.toArray()) }]),
  );
  const model = config.model.onebit ? packOnebitParams(params) : packTransformer(weights, options);
  for (const p of params.values()) p.dispose();
  model.metadata = packedMetadata(config.model, tokenizer);
  writePackedModel(out, model, { valueDtype: options.valueDtype });
  return packedModelBits(model, options.valueDtype);
}

/** The metadata that lets a packed file decode on its own. */
export function packedMetadata(config: ModelConfig, tokenizer: Tokenizer | null): Record<string, string> {
  const meta: Record<string, string> = { [MODEL_KEY]: JSON.stringify(config) };
  if (tokenizer) meta[TOKENIZER_KEY] = JSON.stringify(toTokenizerJson(tokenizer));
  return meta;
}

export interface OpenedPackedModel {
  config: ModelConfig;
  model: PackedModel;
  tokenizer: Tokenizer | null;
}

/** Reads a packed file with its model config (required) and tokenizer (when it carries one). */
export function openPackedModel(path: string): OpenedPackedModel {
  const model = readPackedModel(path);
  const text = model.metadata?.[MODEL_KEY];
  if (text === undefined)
    throw new CheckpointError(
      path,
      `metadata ${MODEL_KEY} is missing: pack the model with packRun to decode it`,
    );
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(path, `metadata ${MODEL_KEY} is not JSON (${(e as Error).message})`);
  }
  const config = resolveModelConfig(raw, `${path}: ${MODEL_KEY}.`);
  const tokText = model.metadata?.[TOKENIZER_KEY];
  let tokenizer: Tokenizer | null = null;
  if (tokText !== undefined) {
    try {
      tokenizer = tokenizerFromJson(JSON.parse(tokText), `${path}: ${TOKENIZER_KEY}`);
    } catch (e) {
      throw new CheckpointError(path, `metadata ${TOKENIZER_KEY}: ${(e as Error).message}`);
    }
  }
  return { config, model, tokenizer };
}

export interface DecodeOptions {
  maxTokens: number;
  temperature: number;
  topK: number;
  seed: number;
  stopToken?: number;
}

/** What decodeTokens drives: decode.ts's Decoder, or device-decode.ts's DeviceDecoder. */
export interface TokenDecoder {
  readonly config: ModelConfig;
  reset(): void;
  /** Appends tokens; the logits of the last. */
  forward(tokens: number[]): ArrayLike<number>;
  /** Appends tokens; the last one's most likely id (the first of equals), where the decoder finds it itself. */
  forwardArgmax?(tokens: number[]): number;
}

/**
 * Generated token ids after `prompt`, drawing as train/generate.ts's sampleTokens does (the same uniform
 * numbers, the same top-k rule), so a packed model and its unpacked reference sample alike. Greedy decoding
 * (temperature 0) asks the decoder for the argmax where it can (on a GPU: one number back per token).
 */
export function decodeTokens(decoder: TokenDecoder, prompt: number[], options: DecodeOptions): number[] {
  if (prompt.length === 0)
    throw new CheckpointError('<prompt>', 'is empty: decoding needs at least one token');
  decoder.reset();
  const out: number[] = [];
  const uniform = new Float64Array(1);
  const greedy = options.temperature <= 0 && decoder.forwardArgmax !== undefined;
  let pending = prompt.slice(-decoder.config.context);
  for (let i = 0; i < options.maxTokens; i++) {
    let next: number;
    if (greedy) next = decoder.forwardArgmax!(pending);
    else {
      const logits = decoder.forward(pending);
      philoxFill(uniform, 1, 'uniform', options.seed, i);
      next = pick(logits, options.temperature, options.topK, uniform[0]);
    }
    if (next === options.stopToken) break;
    out.push(next);
    pending = [next];
  }
  return out;
}

/** Text from a packed file: the prompt's continuation, decoded with the file's own tokenizer. On the host
 *  decoder by `kernel` (decode.ts), or, given a backend name, with the whole decoder on that backend
 *  (device-decode.ts: on 'cuda' every step stays on the GPU). */
export function samplePacked(
  path: string,
  prompt: string,
  options: Omit<DecodeOptions, 'stopToken'> & { kernel?: PackedKernel; backend?: string },
): string {
  if (options.backend && options.kernel)
    throw new CheckpointError(
      path,
      `kernel '${options.kernel}' is for the host decoder; on backend '${options.backend}' the packed layers run that backend's kernel (leave one out)`,
    );
  const { config, model, tokenizer } = openPackedModel(path);
  if (!tokenizer)
    throw new CheckpointError(
      path,
      `metadata ${TOKENIZER_KEY} is missing (a run without a tokenizer): cannot sample text`,
    );
  const eot = tokenizer.encode('<|endoftext|>');
  const ids = [...eot, ...tokenizer.encode(prompt)];
  const stopToken = eot.length === 1 ? eot[0] : undefined;
  if (options.backend) {
    const decoder = packedDeviceDecoder(config, model, T.getBackend(options.backend));
    try {
      return prompt + tokenizer.decode(decodeTokens(decoder, ids, { ...options, stopToken }));
    } finally {
      decoder.dispose();
    }
  }
  const decoder = new Decoder(packedDecoderWeights(config, model, options.kernel));
  return prompt + tokenizer.decode(decodeTokens(decoder, ids, { ...options, stopToken }));
}
