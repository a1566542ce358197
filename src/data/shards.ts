// The token cache: a corpus tokenized once is kept as a binary shard under the cache folder, named by a hash
// of (the documents, the tokenizer), so any change to either picks a new file and a stale one is never read.
// A shard that fails its size or checksum test is rebuilt, not trusted.

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CorpusError } from './errors.ts';
import { readTokenFile, type TokenArray, tokenArrayFor, writeTokenFile } from './token_file.ts';
import type { Tokenizer } from './tokenizer.ts';
import { toTokenizerJson } from './tokenizer_json.ts';

/** Bumped whenever the way documents become tokens changes, so old shards are not reused. */
const SHARD_FORMAT = 'bitscale-shard-v1: <|endoftext|> before every document';

/** The cache folder: the argument, else $BITSCALE_CACHE, else .bitscale-cache in the working directory. */
export function resolveCacheDir(cacheDir?: string): string {
  return resolve(cacheDir ?? process.env.BITSCALE_CACHE ?? '.bitscale-cache');
}

/** SHA-256 (hex) of a list of documents, length-prefixed so that boundaries count. */
export function hashDocuments(documents: readonly string[]): string {
  const hash = createHash('sha256');
  for (const doc of documents) hash.update(`${doc.length}:`).update(doc);
  return hash.digest('hex');
}

/** SHA-256 (hex) of a tokenizer's canonical tokenizer.json. */
export function hashTokenizer(tokenizer: Tokenizer): string {
  return createHash('sha256')
    .update(JSON.stringify(toTokenizerJson(tokenizer)))
    .digest('hex');
}

/** Tokenizes documents into one stream: `<|endoftext|>` then the document, for each document. */
export function tokenizeDocuments(
  documents: readonly string[],
  tokenizer: Tokenizer,
  eotId: number,
): TokenArray {
  const pieces: number[][] = [];
  let total = 0;
  for (const doc of documents) {
    const ids = tokenizer.encode(doc);
    pieces.push(ids);
    total += ids.length + 1;
  }
  const tokens = tokenArrayFor(tokenizer.vocabSize, total);
  let at = 0;
  for (const ids of pieces) {
    tokens[at++] = eotId;
    tokens.set(ids, at);
    at += ids.length;
  }
  return tokens;
}

export type CacheOutcome = 'hit' | 'miss' | 'rebuilt';

/** The shard path for documents under a tokenizer. */
export function shardPath(cacheDir: string, documentsHash: string, tokenizerHash: string): string {
  const key = createHash('sha256')
    .update(`${SHARD_FORMAT}\n${documentsHash}\n${tokenizerHash}`)
    .digest('hex');
  return join(cacheDir, 'shards', `${key.slice(0, 32)}.bin`);
}

/** Tokens of documents, from the cache when a sound shard is there, else tokenized and written. */
export function cachedTokens(
  documents: readonly string[],
  tokenizer: Tokenizer,
  eotId: number,
  cacheDir: string,
): { tokens: TokenArray; path: string; outcome: CacheOutcome } {
  const path = shardPath(cacheDir, hashDocuments(documents), hashTokenizer(tokenizer));
  let outcome: CacheOutcome = 'miss';
  if (existsSync(path)) {
    try {
      const file = readTokenFile(path);
      if (file.vocabSize === tokenizer.vocabSize) return { tokens: file.tokens, path, outcome: 'hit' };
    } catch (error) {
      if (!(error instanceof CorpusError)) throw error;
    }
    outcome = 'rebuilt';
  }
  const tokens = tokenizeDocuments(documents, tokenizer, eotId);
  writeTokenFile(path, tokens, tokenizer.vocabSize);
  return { tokens, path, outcome };
}
