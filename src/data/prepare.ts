// prepareData: corpus in, tokens out: what `bitscale train` calls before the first step.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { trainBpe } from './bpe_train.ts';
import { type Corpus, loadCorpus, type TextCorpus, type TokenCorpus } from './corpus.ts';
import { END_OF_TEXT } from './documents.ts';
import { CorpusError, DataArgumentError, DataError, TokenizerError } from './errors.ts';
import {
  loadPreparedCorpus,
  type PreparedCorpus,
  preparedDir,
  preparedTokens,
  ShardError,
} from './prepare_corpus.ts';
import { type CacheOutcome, cachedTokens, hashDocuments, resolveCacheDir } from './shards.ts';
import { type StreamSource, streamSource } from './sources.ts';
import { checkValFraction, isValidationDocument, splitByHash } from './split.ts';
import {
  hashPayload,
  readTokenFile,
  readTokenLayout,
  scratchBuffer,
  type TokenArray,
  type TokenLayout,
} from './token_file.ts';
import { materialize, ShardedTokens, type TokenSource } from './token_source.ts';
import { Tokenizer } from './tokenizer.ts';
import { loadTokenizer, saveTokenizer } from './tokenizer_json.ts';

export interface PrepareDataOptions {
  /**
   * An embedded corpus name ('tinystories', the default; 'tinyshakespeare'; 'gutenberg'), a .txt, .txt.xz or
   * .jsonl file, a folder of them, a .bin, or a folder of .bin shards. Large and compressed text is streamed
   * into shards by prepareCorpus (run here in a child process when not prepared yet).
   */
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
  /** In memory for small corpora; read from shards on demand (bounded memory) for streamed ones. */
  train: TokenSource;
  /** Always in memory (a validation split is small). */
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
  const eotId = eotIdOf(tokenizer);
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
  const stream = streamSource(options.corpus ?? 'tinystories', options.validation);
  if (stream !== null) {
    return stream.kind === 'text'
      ? streamedText(stream, options, started)
      : shardFolder(stream, options, started);
  }
  const corpus: Corpus = loadCorpus(options.corpus ?? 'tinystories');
  return corpus.kind === 'text'
    ? prepareText(corpus, options, started)
    : prepareTokens(corpus, options, started);
}

const ENTRY = new URL('./tsx_entry.mjs', import.meta.url).pathname;
const PREPARE_MAIN = new URL('./prepare_main.ts', import.meta.url).href;

/** Runs prepareCorpus (asynchronous, on worker threads) from this synchronous call, in a child process. */
function prepareInChild(options: PrepareDataOptions): void {
  const child = spawnSync(process.execPath, [ENTRY, PREPARE_MAIN, JSON.stringify(options)], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (child.status !== 0) {
    throw new DataError(
      `preparing corpus ${options.corpus} failed (exit ${child.status ?? child.signal}); the messages above say why`,
    );
  }
}

/** A streamed text corpus: its prepared shards, prepared first when they are not on disk or not sound. */
function streamedText(source: StreamSource, options: PrepareDataOptions, started: number): PreparedData {
  const dir = preparedDir({ ...options, corpus: source.name }, source);
  let prepared: PreparedCorpus | null = null;
  try {
    prepared = loadPreparedCorpus(dir);
  } catch (error) {
    if (!(error instanceof ShardError || error instanceof TokenizerError)) throw error;
  }
  if (prepared === null) {
    prepareInChild({ ...options, corpus: options.corpus ?? source.name });
    prepared = loadPreparedCorpus(dir);
    if (prepared === null) throw new DataError(`preparing corpus ${source.name} left no manifest in ${dir}`);
    prepared.reused = false;
  }
  const { manifest, tokenizer } = prepared;
  const { train, val } = preparedTokens(prepared);
  const outcome: CacheOutcome = prepared.reused ? 'hit' : 'miss';
  const valTokens = materialize(val);
  val.close();
  return {
    tokenizer,
    vocabSize: tokenizer.vocabSize,
    eotId: manifest.tokenizer.eotId,
    train,
    val: valTokens,
    stats: {
      corpus: source.name,
      split: manifest.split,
      valFraction: manifest.valFraction,
      documents: manifest.documents,
      tokens: { train: train.length, val: valTokens.length },
      vocabSize: tokenizer.vocabSize,
      bytesPerToken: manifest.bytes.train / (train.length - manifest.documents.train),
      cache: { tokenizer: options.tokenizer === undefined ? outcome : 'given', train: outcome, val: outcome },
      tokenizerPath: prepared.tokenizerPath,
      seconds: (performance.now() - started) / 1000,
    },
  };
}

/** The largest id in a token file, read in pieces through one buffer (memory stays flat on large folders). */
function maxTokenOf(layout: TokenLayout): number {
  const piece = scratchBuffer();
  const fd = openSync(layout.path, 'r');
  let max = 0;
  try {
    const end = layout.offset + layout.count * layout.width;
    for (let at = layout.offset; at < end; ) {
      const n = readSync(fd, piece, 0, Math.min(piece.length, end - at), at);
      if (n === 0) break;
      const ids =
        layout.width === 2
          ? new Uint16Array(piece.buffer, piece.byteOffset, n >> 1)
          : new Uint32Array(piece.buffer, piece.byteOffset, n >> 2);
      for (let i = 0; i < ids.length; i++) if (ids[i] > max) max = ids[i];
      at += n;
    }
  } finally {
    closeSync(fd);
  }
  return max;
}

/**
 * A folder of pre-tokenized shards: each checked before any training (our checksum where the format has one;
 * the vocabulary against the tokenizer's; every id inside it), then read on demand.
 */
function shardFolder(source: StreamSource, options: PrepareDataOptions, started: number): PreparedData {
  if (source.val === null) {
    throw new CorpusError(
      source.name,
      'a folder of .bin shards needs validation shards: name them *val* (as llm.c does) or give --validation',
    );
  }
  const tokenizer = options.tokenizer === undefined ? null : loadTokenizer(options.tokenizer);
  const check = (files: string[]) =>
    files.map((path) => {
      const layout = readTokenLayout(path);
      if (layout.sha256 !== null && hashPayload(layout) !== layout.sha256) {
        throw new ShardError(path, 'checksum mismatch (corrupted or truncated)');
      }
      if (tokenizer !== null && layout.vocabSize !== null && layout.vocabSize !== tokenizer.vocabSize) {
        throw new ShardError(
          path,
          `vocabulary ${layout.vocabSize} does not match the tokenizer ${options.tokenizer} (${tokenizer.vocabSize})`,
        );
      }
      return layout;
    });
  const trainLayouts = check(source.train);
  const valLayouts = check(source.val);
  const all = [...trainLayouts, ...valLayouts];
  const declared = all.find((l) => l.vocabSize !== null)?.vocabSize ?? null;
  for (const l of all) {
    if (l.vocabSize !== null && declared !== null && l.vocabSize !== declared) {
      throw new ShardError(l.path, `vocabulary ${l.vocabSize} differs from ${declared} of ${all[0].path}`);
    }
  }
  const maxes = all.map(maxTokenOf);
  const vocabSize = tokenizer?.vocabSize ?? declared ?? Math.max(...maxes) + 1;
  all.forEach((l, i) => {
    if (maxes[i] >= vocabSize) {
      throw new ShardError(l.path, `holds token id ${maxes[i]}, outside the vocabulary of ${vocabSize}`);
    }
  });
  const train = new ShardedTokens(trainLayouts, vocabSize);
  const valSource = new ShardedTokens(valLayouts, vocabSize);
  const val = materialize(valSource);
  valSource.close();
  const eotId = eotIdOf(tokenizer);
  return {
    tokenizer,
    vocabSize,
    eotId,
    train,
    val,
    stats: {
      corpus: source.name,
      split: 'validation-file',
      valFraction: null,
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

/** The end-of-text id of a tokenizer that has one, else null (a token corpus may come without a tokenizer). */
function eotIdOf(tokenizer: Tokenizer | null): number | null {
  try {
    return tokenizer?.specialId(END_OF_TEXT) ?? null;
  } catch {
    return null;
  }
}
