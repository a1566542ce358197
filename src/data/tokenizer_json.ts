// Hugging Face tokenizer.json for byte-level BPE: what we write, and the subset of what HF writes that we read.
//
// We write the layout `tokenizers` itself produces for GPT-2 (model BPE with vocab + merges, ByteLevel
// pre-tokenizer, post-processor and decoder, added_tokens for specials), so `Tokenizer.from_file` and
// transformers load it. We read both merge spellings ("a b" strings, and ["a", "b"] pairs since
// tokenizers 0.20), and refuse, naming the field, any setting that would change the tokenization silently.

import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../base/atomic-write.ts';
import { TokenizerError } from './errors.ts';
import { Tokenizer } from './tokenizer.ts';

interface AddedToken {
  id: number;
  content: string;
  special?: boolean;
}

/** The tokenizer.json object for a tokenizer (plain data, ready for JSON.stringify). */
export function toTokenizerJson(tokenizer: Tokenizer): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  // Specials sit in the model vocab too, as in the files `tokenizers` writes for GPT-2.
  tokenizer.vocab.forEach((token, id) => {
    vocab[token] = id;
  });
  const byteLevel = (addPrefixSpace: boolean, trimOffsets: boolean) => ({
    type: 'ByteLevel',
    add_prefix_space: addPrefixSpace,
    trim_offsets: trimOffsets,
    use_regex: true,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: tokenizer.specialTokens.map(({ id, content }) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: true,
      special: true,
    })),
    normalizer: tokenizer.options.nfc ? { type: 'NFC' } : null,
    pre_tokenizer: tokenizer.options.splitPattern
      ? {
          // Qwen2 / Llama 3: the split regex (as JavaScript reads it, also valid Oniguruma), then bytes.
          type: 'Sequence',
          pretokenizers: [
            {
              type: 'Split',
              pattern: { Regex: tokenizer.options.splitPattern.source },
              behavior: 'Isolated',
              invert: false,
            },
            { ...byteLevel(false, true), use_regex: false },
          ],
        }
      : byteLevel(tokenizer.options.addPrefixSpace, true),
    post_processor: byteLevel(true, false),
    decoder: byteLevel(true, true),
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: tokenizer.options.ignoreMerges,
      vocab,
      merges: tokenizer.merges.map(([a, b]) => [a, b]),
    },
  };
}

/** Writes tokenizer.json atomically. */
export function saveTokenizer(tokenizer: Tokenizer, path: string): void {
  writeFileAtomic(path, `${JSON.stringify(toTokenizerJson(tokenizer), null, 2)}\n`);
}

function fail(path: string, field: string, problem: string): never {
  throw new TokenizerError(`tokenizer ${path}: ${field} ${problem}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

interface PreTokenizer {
  addPrefixSpace: boolean;
  splitPattern: RegExp | null;
}

/**
 * Reads the pre-tokenizer: ByteLevel with GPT-2's regex (alone or in a one-element Sequence), or the Qwen2 /
 * Llama 3 form Sequence[Split(regex, Isolated), ByteLevel(use_regex false)].
 */
function readPreTokenizer(path: string, pre: unknown): PreTokenizer {
  let splitPattern: RegExp | null = null;
  if (isRecord(pre) && pre.type === 'Sequence' && Array.isArray(pre.pretokenizers)) {
    const steps = pre.pretokenizers as unknown[];
    if (steps.length === 2 && isRecord(steps[0]) && steps[0].type === 'Split') {
      splitPattern = readSplit(path, steps[0]);
      pre = steps[1];
    } else if (steps.length === 1) {
      pre = steps[0];
    } else {
      fail(
        path,
        'pre_tokenizer.pretokenizers',
        `${JSON.stringify(steps.map((s) => (isRecord(s) ? s.type : s)))}: only [ByteLevel] or [Split, ByteLevel] are supported`,
      );
    }
  }
  if (!isRecord(pre) || pre.type !== 'ByteLevel') {
    fail(
      path,
      'pre_tokenizer',
      `is ${JSON.stringify(isRecord(pre) ? pre.type : pre)}; only ByteLevel is supported`,
    );
  }
  if (splitPattern === null && pre.use_regex === false)
    fail(path, 'pre_tokenizer.use_regex', 'is false; only the GPT-2 regex is supported');
  if (splitPattern !== null && pre.use_regex !== false)
    fail(
      path,
      'pre_tokenizer.pretokenizers[1].use_regex',
      'must be false after a Split (the text is split already)',
    );
  return { addPrefixSpace: pre.add_prefix_space === true, splitPattern };
}

/** A Split pre-tokenizer's regex, translated from Oniguruma to JavaScript. */
function readSplit(path: string, split: Record<string, unknown>): RegExp {
  const field = 'pre_tokenizer.pretokenizers[0]';
  const pattern = split.pattern;
  if (!isRecord(pattern) || typeof pattern.Regex !== 'string')
    fail(path, `${field}.pattern`, `is ${JSON.stringify(pattern)}; only {"Regex": ...} is supported`);
  if (split.behavior !== 'Isolated')
    fail(path, `${field}.behavior`, `is ${JSON.stringify(split.behavior)}; only Isolated is supported`);
  if (split.invert === true) fail(path, `${field}.invert`, 'is true; only false is supported');
  try {
    return new RegExp(caseInsensitiveGroups(pattern.Regex as string), 'gu');
  } catch (e) {
    return fail(path, `${field}.pattern.Regex`, `cannot be used (${(e as Error).message})`);
  }
}

/** Oniguruma's (?i:...) groups (no JavaScript equivalent in Node 20) as groups of [xX] classes. */
function caseInsensitiveGroups(source: string): string {
  let out = '';
  let i = 0;
  while (i < source.length) {
    const start = source.indexOf('(?i:', i);
    if (start < 0) return out + source.slice(i);
    out += `${source.slice(i, start)}(?:`;
    let depth = 1;
    let j = start + 4;
    for (; j < source.length && depth > 0; j++) {
      const ch = source[j];
      if (ch === '\\') {
        out += source.slice(j, j + 2);
        j++;
        continue;
      }
      if (ch === '(') depth++;
      if (ch === ')') depth--;
      if (depth === 0) break;
      const lower = ch.toLowerCase();
      const upper = ch.toUpperCase();
      out += lower !== upper ? `[${lower}${upper}]` : ch;
    }
    out += ')';
    i = j + 1;
  }
  return out;
}

/** Builds a Tokenizer from a parsed tokenizer.json object; `path` is only for error messages. */
export function tokenizerFromJson(json: unknown, path = '<tokenizer.json>'): Tokenizer {
  if (!isRecord(json)) fail(path, 'top level', 'is not a JSON object');
  const model = json.model;
  if (!isRecord(model)) fail(path, 'model', 'is missing');
  if (model.type !== undefined && model.type !== 'BPE') {
    fail(path, 'model.type', `is ${JSON.stringify(model.type)}; only BPE is supported`);
  }
  const nfc = isRecord(json.normalizer) && json.normalizer.type === 'NFC';
  if (json.normalizer !== null && json.normalizer !== undefined && !nfc) {
    fail(
      path,
      'normalizer',
      `is ${JSON.stringify((json.normalizer as { type?: unknown }).type)}; only null or NFC is supported`,
    );
  }
  if (model.dropout !== null && model.dropout !== undefined && model.dropout !== 0) {
    fail(
      path,
      'model.dropout',
      `is ${model.dropout}; only null is supported (dropout makes encoding random)`,
    );
  }
  for (const field of ['continuing_subword_prefix', 'end_of_word_suffix'] as const) {
    const value = model[field];
    if (value !== null && value !== undefined && value !== '') {
      fail(path, `model.${field}`, `is ${JSON.stringify(value)}; byte-level BPE uses none`);
    }
  }
  const { addPrefixSpace, splitPattern } = readPreTokenizer(path, json.pre_tokenizer);
  if (!isRecord(model.vocab)) fail(path, 'model.vocab', 'is not an object of token -> id');
  const vocab: string[] = [];
  for (const [token, id] of Object.entries(model.vocab)) {
    if (!Number.isInteger(id) || (id as number) < 0) {
      fail(path, `model.vocab[${JSON.stringify(token)}]`, `is ${JSON.stringify(id)}; ids are integers >= 0`);
    }
    vocab[id as number] = token;
  }
  if (!Array.isArray(model.merges)) fail(path, 'model.merges', 'is not a list');
  const merges = model.merges.map((m: unknown, i: number): [string, string] => {
    if (typeof m === 'string') {
      const parts = m.split(' ');
      if (parts.length === 2) return [parts[0], parts[1]];
    } else if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') {
      return [m[0], m[1]];
    }
    return fail(path, `model.merges[${i}]`, `is ${JSON.stringify(m)}; expected "a b" or ["a", "b"]`);
  });
  const added = (json.added_tokens ?? []) as AddedToken[];
  if (!Array.isArray(added)) fail(path, 'added_tokens', 'is not a list');
  const specialTokens = added.map((t, i) => {
    if (!isRecord(t) || typeof t.content !== 'string' || !Number.isInteger(t.id)) {
      fail(path, `added_tokens[${i}]`, 'needs a string content and an integer id');
    }
    vocab[t.id] = t.content;
    return { content: t.content, id: t.id };
  });
  try {
    return new Tokenizer(
      { vocab, merges, specialTokens },
      { addPrefixSpace, ignoreMerges: model.ignore_merges === true, splitPattern, nfc },
    );
  } catch (error) {
    if (error instanceof TokenizerError) throw new TokenizerError(`tokenizer ${path}: ${error.message}`);
    throw error;
  }
}

/** Loads a tokenizer.json file (ours, or one written by Hugging Face tokenizers for byte-level BPE). */
export function loadTokenizer(path: string): Tokenizer {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new TokenizerError(
      `tokenizer ${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? error})`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new TokenizerError(`tokenizer ${path}: not valid JSON (${(error as Error).message})`);
  }
  return tokenizerFromJson(json, path);
}
