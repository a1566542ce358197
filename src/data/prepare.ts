// prepareData: corpus in, tokens out: what `bitscale train` calls before the first step.

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { trainBpe } from './bpe_train.ts';
import { type Corpus, loadCorpus, type TextCorpus, type TokenCorpus } from './corpus.ts';
import { END_OF_TEXT } from './documents.ts';
import { CorpusError, DataArgumentError, TokenizerError } from './errors.ts';
import { type CacheOutcome, cachedTokens, hashDocuments, resolveCacheDir } from './shards.ts';
import { checkValFraction, isValidationDocument, splitByHash } from './split.ts';
import { readTokenFile, type TokenArray } from './token_file.ts';
import { Tokenizer } from './tokenizer.ts';
import { loadTokenizer, saveTokenizer } from './tokenizer_json.ts';

export interface PrepareDataOptions {
  /** An embedded corpus name ('tinystories', the default; 'tinyshakespeare'), a .txt file, a folder, or a .bin. */
  corpus?: string;
  /** A separate validation corpus (file, folder or .bin); without one, documents are split by content hash. */
  validation?: string;
  /** Vocabulary size of the tokenizer trained on the training documents (default 2048). */
  vocabSize?: number;
  /** A tokenizer.json to use instead of training one. */
  tokenizer?: string;
  /** Cache folder (default $BITSCALE_CACHE, else .bitscale-cache in the working directory). */
  cacheDir?: string;
  /** Validation share for the hash split (default 0.05). */
  valFraction?: number;
}

export interface DataStats {
  corpus: string;
  split: 'embedded' | 'validation-file' | 'hash';
  valFraction: number | null;
  documents: { train: number; val: number } | null;
  tokens: { train: number; val: number };
  vocabSize: number;
  /** UTF-8 bytes of training text per training token (the tokenizer's compression). */
  bytesPerToken: number | null;
  cache: {
    tokenizer: CacheOutcome | 'given' | 'none';
    train: CacheOutcome | 'given';
    val: CacheOutcome | 'given';
  };
  tokenizerPath: string | null;
  seconds: number;
}

export interface PreparedData {
  /** Null only for a pre-tokenized corpus given without a tokenizer.json. */
  tokenizer: Tokenizer | null;
  vocabSize: number;
  /** The id separating documents, when known. */
  eotId: number | null;
  train: TokenArray;
  val: TokenArray;
  stats: DataStats;
}

const TRAINER_VERSION = 'bitscale-bpe-v1';
const DEFAULT_VOCAB = 2048;
const DEFAULT_VAL_FRACTION = 0.05;
/** Pre-tokenized corpora without document boundaries are split in chunks of this many tokens. */
const TOKEN_SPLIT_CHUNK = 1024;

function textOf(source: string): TextCorpus {
  const corpus = loadCorpus(source);
  if (corpus.kind !== 'text') throw new CorpusError(source, 'expected text here, got a token binary');
  return corpus;
}

/** A tokenizer trained on the training documents, cached by (documents, vocabulary size). */
function trainedTokenizer(
  train: string[],
  vocabSize: number,
  cacheDir: string,
): { tokenizer: Tokenizer; path: string; outcome: CacheOutcome } {
  const key = createHash('sha256')
    .update(`${TRAINER_VERSION}\n${vocabSize}\n${END_OF_TEXT}\n${hashDocuments(train)}`)
    .digest('hex');
  const path = join(cacheDir, 'tokenizers', `${key.slice(0, 32)}.json`);
  let outcome: CacheOutcome = 'miss';
  if (existsSync(path)) {
    try {
      // The name is a hash of everything training depends on, so any file that loads is the right one.
      return { tokenizer: loadTokenizer(path), path, outcome: 'hit' };
    } catch (error) {
      if (!(error instanceof TokenizerError)) throw error;
    }
    outcome = 'rebuilt';
  }
  const tokenizer = new Tokenizer(
    trainBpe(train, { vocabSize, specialTokens: [END_OF_TEXT], minPairCount: 1 }),
  );
  saveTokenizer(tokenizer, path);
  return { tokenizer, path, outcome };
}

function prepareText(corpus: TextCorpus, options: PrepareDataOptions, started: number): PreparedData {
  const cacheDir = resolveCacheDir(options.cacheDir);
  const valFraction = options.valFraction ?? DEFAULT_VAL_FRACTION;
  let train = corpus.documents;
  let val: string[];
  let split: DataStats['split'];
  if (options.validation !== undefined) {
    val = textOf(options.validation).documents;
    split = 'validation-file';
  } else if (corpus.validation !== null) {
    val = corpus.validation;
    split = 'embedded';
  } else {
    ({ train, val } = splitByHash(corpus.documents, valFraction));
    split = 'hash';
    if (val.length === 0 || train.length === 0) {
      throw new CorpusError(
        corpus.name,
        `the hash split at valFraction ${valFraction} leaves ${train.length} training and ${val.length} validation documents of ${corpus.documents.length}; give a validation file or change valFraction`,
      );
    }
  }
  let tokenizer: Tokenizer;
  let tokenizerPath: string;
  let tokenizerOutcome: DataStats['cache']['tokenizer'];
  if (options.tokenizer !== undefined) {
    tokenizer = loadTokenizer(options.tokenizer);
    tokenizerPath = options.tokenizer;
    tokenizerOutcome = 'given';
  } else {
    const vocabSize = options.vocabSize ?? DEFAULT_VOCAB;
    if (!Number.isInteger(vocabSize) || vocabSize < 257 || vocabSize > 1_000_000) {
      throw new DataArgumentError('vocabSize', vocabSize, 'an integer in [257, 1000000]');
    }
    const trained = trainedTokenizer(train, vocabSize, cacheDir);
    ({ tokenizer, path: tokenizerPath, outcome: tokenizerOutcome } = trained);
  }
  const eotId = tokenizer.specialId(END_OF_TEXT);
  const trainTokens = cachedTokens(train, tokenizer, eotId, cacheDir);
  const valTokens = cachedTokens(val, tokenizer, eotId, cacheDir);
  const trainBytes = train.reduce((sum, doc) => sum + Buffer.byteLength(doc, 'utf8'), 0);
  return {
    tokenizer,
    vocabSize: tokenizer.vocabSize,
    eotId,
    train: trainTokens.tokens,
    val: valTokens.tokens,
    stats: {
      corpus: corpus.name,
      split,
      valFraction: split === 'hash' ? valFraction : null,
      documents: { train: train.length, val: val.length },
      tokens: { train: trainTokens.tokens.length, val: valTokens.tokens.length },
      vocabSize: tokenizer.vocabSize,
      bytesPerToken: trainBytes / (trainTokens.tokens.length - train.length),
      cache: { tokenizer: tokenizerOutcome, train: trainTokens.outcome, val: valTokens.outcome },
      tokenizerPath,
      seconds: (performance.now() - started) / 1000,
    },
  };
}

/** Splits a token stream into fixed chunks and sends each by its content hash. */
function splitTokens(tokens: TokenArray, valFraction: number): { train: TokenArray; val: TokenArray } {
  checkValFraction(valFraction);
  const make = tokens instanceof Uint16Array ? Uint16Array : Uint32Array;
  const train: number[] = [];
  const val: number[] = [];
  for (let start = 0; start < tokens.length; start += TOKEN_SPLIT_CHUNK) {
    const chunk = tokens.subarray(start, start + TOKEN_SPLIT_CHUNK);
    const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const side = isValidationDocument(bytes, valFraction) ? val : train;
    for (const t of chunk) side.push(t);
  }
  return { train: make.from(train), val: make.from(val) };
}

function maxToken(tokens: TokenArray): number {
  let max = 0;
  for (const t of tokens) if (t > max) max = t;
  return max;
}

function prepareTokens(corpus: TokenCorpus, options: PrepareDataOptions, started: number): PreparedData {
  const tokenizer = options.tokenizer === undefined ? null : loadTokenizer(options.tokenizer);
  const valFraction = options.valFraction ?? DEFAULT_VAL_FRACTION;
  let train = corpus.tokens;
  let val: TokenArray;
  let split: DataStats['split'];
  if (options.validation !== undefined) {
    const file = readTokenFile(options.validation);
    val = file.tokens;
    split = 'validation-file';
  } else {
    ({ train, val } = splitTokens(corpus.tokens, valFraction));
    split = 'hash';
  }
  const vocabSize = corpus.vocabSize ?? tokenizer?.vocabSize ?? Math.max(maxToken(train), maxToken(val)) + 1;
  for (const [name, tokens] of [
    [corpus.name, train],
    [options.validation ?? corpus.name, val],
  ] as const) {
    const max = maxToken(tokens);
    if (max >= vocabSize)
      throw new CorpusError(name, `holds token id ${max}, outside the vocabulary of ${vocabSize}`);
    if (tokens.length < 2)
      throw new CorpusError(name, `its split has ${tokens.length} tokens; need at least 2`);
  }
  let eotId: number | null = null;
  try {
    eotId = tokenizer?.specialId(END_OF_TEXT) ?? null;
  } catch {
    eotId = null;
  }
  return {
    tokenizer,
    vocabSize,
    eotId,
    train,
    val,
    stats: {
      corpus: corpus.name,
      split,
      valFraction: split === 'hash' ? valFraction : null,
      documents: null,
      tokens: { train: train.length, val: val.length },
      vocabSize,
      bytesPerToken: null,
      cache: { tokenizer: tokenizer === null ? 'none' : 'given', train: 'given', val: 'given' },
      tokenizerPath: options.tokenizer ?? null,
      seconds: (performance.now() - started) / 1000,
    },
  };
}

/**
 * Loads a corpus, gets a tokenizer (given, cached, or trained on the training documents only), and returns
 * the train and validation token streams (cached as shards), with stats worth printing.
 */
export function prepareData(options: PrepareDataOptions = {}): PreparedData {
  const started = performance.now();
  const corpus: Corpus = loadCorpus(options.corpus ?? 'tinystories');
  return corpus.kind === 'text'
    ? prepareText(corpus, options, started)
    : prepareTokens(corpus, options, started);
}
