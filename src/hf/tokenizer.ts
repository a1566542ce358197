// A model folder's tokenizer.json: byte-level BPE (data/tokenizer_json.ts reads the model, normalizer and
// pre-tokenizer) plus the post-processor's special tokens around every text, as transformers' tokenizer(text)
// adds them (Llama 3's <|begin_of_text|>). Anything that is not byte-level BPE is refused by field.
import { readFileSync } from 'node:fs';
import { TokenizerError } from '../data/errors.ts';
import type { Tokenizer } from '../data/tokenizer.ts';
import { tokenizerFromJson } from '../data/tokenizer_json.ts';
import { HfModelError, show } from './errors.ts';

export interface HfTokenizer {
  tokenizer: Tokenizer;
  /** Ids the post-processor puts before and after a single text. */
  prefix: number[];
  suffix: number[];
  vocabSize: number;
  /** transformers' tokenizer(text).input_ids. */
  encode(text: string): number[];
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function loadHfTokenizer(path: string): HfTokenizer {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new HfModelError(path, 'file', `cannot read (${(e as Error).message})`);
  }
  return hfTokenizerFromText(text, path);
}

/** A tokenizer.json's text as a tokenizer; `path` names it in errors. */
export function hfTokenizerFromText(text: string, path: string): HfTokenizer {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new HfModelError(path, 'file', `not valid JSON (${(e as Error).message})`);
  }
  if (!isRecord(json)) throw new HfModelError(path, 'file', 'is not a JSON object');
  const model = json.model;
  if (isRecord(model) && model.type !== 'BPE')
    throw new HfModelError(path, 'model.type', `${show(model.type)}: only byte-level BPE is supported`);
  if (isRecord(model) && model.byte_fallback === true)
    throw new HfModelError(path, 'model.byte_fallback', 'true: a SentencePiece-style BPE, not byte-level');
  let tokenizer: Tokenizer;
  try {
    tokenizer = tokenizerFromJson(json, path);
  } catch (e) {
    if (e instanceof TokenizerError) throw new HfModelError(path, 'tokenizer', e.message);
    throw e;
  }
  const { prefix, suffix } = postProcessor(path, json.post_processor, tokenizer);
  const vocabSize = tokenizer.vocabSize;
  return {
    tokenizer,
    prefix,
    suffix,
    vocabSize,
    encode: (text) => [...prefix, ...tokenizer.encode(text), ...suffix],
  };
}

/** The ids a post-processor adds around one sequence: ByteLevel adds none, TemplateProcessing its specials. */
function postProcessor(
  path: string,
  pp: unknown,
  tokenizer: Tokenizer,
): { prefix: number[]; suffix: number[] } {
  const prefix: number[] = [];
  const suffix: number[] = [];
  const steps = isRecord(pp) && pp.type === 'Sequence' ? (pp.processors as unknown[]) : [pp];
  for (const [i, step] of (steps ?? []).entries()) {
    const field = steps.length > 1 ? `post_processor.processors[${i}]` : 'post_processor';
    if (step === null || step === undefined || (isRecord(step) && step.type === 'ByteLevel')) continue;
    if (!isRecord(step) || step.type !== 'TemplateProcessing' || !Array.isArray(step.single))
      throw new HfModelError(
        path,
        `${field}.type`,
        `${show(isRecord(step) ? step.type : step)} is not supported (ByteLevel, TemplateProcessing)`,
      );
    let seen = false;
    for (const piece of step.single as unknown[]) {
      if (isRecord(piece) && isRecord(piece.Sequence)) {
        seen = true;
        continue;
      }
      const special = isRecord(piece) && isRecord(piece.SpecialToken) ? piece.SpecialToken.id : undefined;
      const entry =
        isRecord(step.special_tokens) && typeof special === 'string'
          ? step.special_tokens[special]
          : undefined;
      const ids = isRecord(entry) && Array.isArray(entry.ids) ? (entry.ids as number[]) : undefined;
      if (!ids || ids.some((id) => !Number.isInteger(id) || id < 0 || id >= tokenizer.vocabSize))
        throw new HfModelError(path, `${field}.single`, `${show(piece)}: a special token without valid ids`);
      (seen ? suffix : prefix).push(...ids);
    }
  }
  return { prefix, suffix };
}
