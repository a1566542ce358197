// `bitscale data prepare`: a streamed corpus becomes a folder of checksummed token shards, once.
//
//   <cache>/corpora/<name>-<key>/tokenizer.json   trained on a bounded sample of the training text
//                               train-00000.bin ...  our token format, sha256 of the payload in each header
//                               val-00000.bin ...
//                               manifest.json       written last: the tokenizer's hash and vocabulary, every
//                                                   shard with its token count and sha256
//
// The key hashes the source files (path, size, mtime), the vocabulary (or the given tokenizer) and the split,
// so a changed corpus gets a new folder. Documents are grouped in order into shards of ~SHARD_CHARS, a pure
// function of the text, so a re-run skips every shard already on disk whose checksum holds (resume), and two
// processes preparing the same corpus at once write identical files, each by an atomic rename: the worst case
// is duplicated work, never a torn file. Tokenization runs on worker threads, one per core.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { writeJsonAtomic } from '../base/atomic-write.ts';
import { trainBpe } from './bpe_train.ts';
import { END_OF_TEXT } from './documents.ts';
import { CorpusError, DataArgumentError, DataError, TokenizerError } from './errors.ts';
import { hashTokenizer, resolveCacheDir } from './shards.ts';
import { documentsOf, type StreamSource, streamSource, textBytes } from './sources.ts';
import { checkValFraction, isValidationDocument } from './split.ts';
import { hashPayload, readTokenLayout, type TokenLayout } from './token_file.ts';
import { ShardedTokens } from './token_source.ts';
import type { ShardDone, ShardJob } from './tokenize_worker.ts';
import { Tokenizer } from './tokenizer.ts';
import { loadTokenizer, saveTokenizer } from './tokenizer_json.ts';

export interface PrepareCorpusOptions {
  /** 'gutenberg', a text / .txt.xz / .jsonl file, or a folder of them (see sources.ts). */
  corpus: string;
  /** Separate validation files; without them the corpus's own, else a hash split by document. */
  validation?: string;
  /** Vocabulary of the tokenizer trained on a sample of the training text (default 2048). */
  vocabSize?: number;
  /** A tokenizer.json to use instead of training one. */
  tokenizer?: string;
  cacheDir?: string;
  /** Validation share of the hash split (default 0.05). */
  valFraction?: number;
  /** Worker threads (default: the cores, at most 8). */
  workers?: number;
  /** Training text the tokenizer learns from: the first this many characters (default 16M). */
  sampleChars?: number;
  /** Characters of text per shard (default 4M, ~1M tokens). */
  shardChars?: number;
}

export interface PrepareProgress {
  phase: 'tokenizer' | 'shards';
  /** Characters of text read so far (all splits) and in all, when known. */
  doneChars: number;
  totalChars: number | null;
  tokens: number;
  seconds: number;
}

export interface ShardEntry {
  file: string;
  tokens: number;
  sha256: string;
}

export interface CorpusManifest {
  format: typeof FORMAT;
  corpus: string;
  split: 'validation-file' | 'hash';
  valFraction: number | null;
  tokenizer: {
    file: string;
    sha256: string;
    vocabSize: number;
    eotId: number;
    /** Characters of the training sample and seconds to read it and learn the merges (null: not trained here). */
    trainedOnChars: number | null;
    trainSeconds: number | null;
  };
  documents: { train: number; val: number };
  /** UTF-8 bytes of text in each split. */
  bytes: { train: number; val: number };
  train: ShardEntry[];
  val: ShardEntry[];
  /** Seconds of the whole preparation, and of the shard phase alone (reading, tokenizing, writing). */
  seconds: number;
  shardSeconds: number;
}

/** A prepared corpus, ready to read. */
export interface PreparedCorpus {
  dir: string;
  manifest: CorpusManifest;
  tokenizer: Tokenizer;
  tokenizerPath: string;
  /** True when everything was on disk already. */
  reused: boolean;
}

const FORMAT = 'bitscale-corpus-v1';
const TRAINER = 'bitscale-bpe-v1';
const DEFAULT_VOCAB = 2048;
const DEFAULT_VAL_FRACTION = 0.05;
const DEFAULT_SAMPLE_CHARS = 16 * 2 ** 20;
/** Characters of text per shard: ~1M tokens, enough work per message to keep the workers busy. */
const SHARD_CHARS = 4 * 2 ** 20;
const WORKER_ENTRY = new URL('./tsx_entry.mjs', import.meta.url);
const WORKER_MODULE = new URL('./tokenize_worker.ts', import.meta.url).href;

function checkVocab(vocabSize: number): void {
  if (!Number.isInteger(vocabSize) || vocabSize < 257 || vocabSize > 1_000_000) {
    throw new DataArgumentError('vocabSize', vocabSize, 'an integer in [257, 1000000]');
  }
}

/** The folder of a prepared corpus: checks the options and the source, touches nothing. */
export function preparedDir(options: PrepareCorpusOptions, source: StreamSource): string {
  const valFraction = source.val === null ? (options.valFraction ?? DEFAULT_VAL_FRACTION) : null;
  if (valFraction !== null) checkValFraction(valFraction);
  let tokenizerKey: string;
  if (options.tokenizer !== undefined) {
    tokenizerKey = `given ${hashTokenizer(loadTokenizer(options.tokenizer))}`;
  } else {
    const vocabSize = options.vocabSize ?? DEFAULT_VOCAB;
    checkVocab(vocabSize);
    tokenizerKey = `${TRAINER} ${vocabSize} ${options.sampleChars ?? DEFAULT_SAMPLE_CHARS}`;
  }
  const key = createHash('sha256')
    .update(
      `${FORMAT}\n${options.shardChars ?? SHARD_CHARS}\n${tokenizerKey}\n${valFraction}\n${source.identity}`,
    )
    .digest('hex');
  const slug = basename(source.name).replace(/[^A-Za-z0-9_.-]/g, '_');
  return join(resolveCacheDir(options.cacheDir), 'corpora', `${slug}-${key.slice(0, 16)}`);
}

/** A shard file that is there, whole, of the vocabulary, with the checksum it claims; else null. */
function soundShard(path: string, vocabSize: number): (TokenLayout & { sha256: string }) | null {
  if (!existsSync(path)) return null;
  try {
    const layout = readTokenLayout(path);
    if (layout.sha256 === null || layout.vocabSize !== vocabSize) return null;
    return hashPayload(layout) === layout.sha256 ? { ...layout, sha256: layout.sha256 } : null;
  } catch (error) {
    if (error instanceof CorpusError) return null;
    throw error;
  }
}

/**
 * Reads a prepared corpus from its folder, checking every shard against the manifest and the tokenizer
 * (size, vocabulary, sha256 of the payload). Null when the folder holds no manifest yet.
 */
export function loadPreparedCorpus(dir: string): PreparedCorpus | null {
  const manifestPath = join(dir, 'manifest.json');
  if (!existsSync(manifestPath)) return null;
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as CorpusManifest;
  if (manifest.format !== FORMAT) return null;
  const tokenizerPath = join(dir, manifest.tokenizer.file);
  const tokenizer = loadTokenizer(tokenizerPath);
  if (hashTokenizer(tokenizer) !== manifest.tokenizer.sha256) {
    throw new ShardError(tokenizerPath, `its sha256 is not the manifest's ${manifest.tokenizer.sha256}`);
  }
  for (const entry of [...manifest.train, ...manifest.val]) checkShard(dir, entry, tokenizer.vocabSize);
  return { dir, manifest, tokenizer, tokenizerPath, reused: true };
}

/** A token shard that does not match its manifest or the tokenizer. */
export class ShardError extends DataError {
  override name = 'ShardError';
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`shard ${path}: ${problem}; run \`bitscale data prepare\` again to rebuild it`);
  }
}

function checkShard(dir: string, entry: ShardEntry, vocabSize: number): TokenLayout {
  const path = join(dir, entry.file);
  let layout: TokenLayout;
  try {
    layout = readTokenLayout(path);
  } catch (error) {
    if (error instanceof CorpusError) throw new ShardError(path, error.message);
    throw error;
  }
  if (layout.vocabSize !== vocabSize) {
    throw new ShardError(path, `vocabulary ${layout.vocabSize} does not match the tokenizer's ${vocabSize}`);
  }
  if (layout.count !== entry.tokens) {
    throw new ShardError(path, `holds ${layout.count} tokens, the manifest says ${entry.tokens}`);
  }
  const actual = hashPayload(layout);
  if (actual !== entry.sha256 || layout.sha256 !== entry.sha256) {
    throw new ShardError(
      path,
      `checksum ${actual.slice(0, 16)}… does not match the manifest's ${entry.sha256.slice(0, 16)}…`,
    );
  }
  return layout;
}

/** The train and validation token streams of a prepared corpus, read from the shards on demand. */
export function preparedTokens(corpus: PreparedCorpus): { train: ShardedTokens; val: ShardedTokens } {
  const { dir, manifest } = corpus;
  const vocab = manifest.tokenizer.vocabSize;
  const open = (entries: ShardEntry[]) =>
    new ShardedTokens(
      entries.map((e) => readTokenLayout(join(dir, e.file))),
      vocab,
    );
  return { train: open(manifest.train), val: open(manifest.val) };
}

/** Worker threads, each loading the tokenizer once; run() resolves when its shard file is written. */
class TokenizerPool {
  private readonly workers: Worker[];
  private readonly idle: Worker[];
  private readonly waiting: (() => void)[] = [];
  private failure: Error | null = null;

  constructor(size: number, tokenizerPath: string) {
    this.workers = Array.from(
      { length: size },
      () => new Worker(WORKER_ENTRY, { workerData: { module: WORKER_MODULE, tokenizerPath } }),
    );
    this.idle = [...this.workers];
  }

  async run(job: ShardJob): Promise<ShardDone> {
    while (this.idle.length === 0) await new Promise<void>((wake) => this.waiting.push(wake));
    if (this.failure) throw this.failure;
    const worker = this.idle.pop()!;
    try {
      return await new Promise<ShardDone>((done, fail) => {
        const onError = (error: Error) => {
          this.failure = error;
          fail(error);
        };
        worker.once('error', onError);
        worker.once('message', (result: ShardDone) => {
          worker.off('error', onError);
          done(result);
        });
        worker.postMessage(job);
      });
    } finally {
      this.idle.push(worker);
      this.waiting.shift()?.();
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

async function sampleText(source: StreamSource, chars: number): Promise<string[]> {
  const sample: string[] = [];
  let taken = 0;
  for await (const doc of documentsOf(source.train)) {
    sample.push(doc.slice(0, chars - taken));
    taken += Math.min(doc.length, chars - taken);
    if (taken >= chars) break; // stops the stream (and its xz process)
  }
  return sample;
}

/**
 * Prepares a streamed corpus: tokenizer (given, on disk, or trained on a bounded sample), then every shard,
 * in parallel, then the manifest. Returns at once when everything is on disk and sound.
 */
export async function prepareCorpus(
  options: PrepareCorpusOptions,
  onProgress?: (p: PrepareProgress) => void,
): Promise<PreparedCorpus> {
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  const source = streamSource(options.corpus, options.validation);
  if (source === null || source.kind !== 'text') {
    throw new DataArgumentError(
      'corpus',
      options.corpus,
      'a streamed text corpus: gutenberg, a .txt.xz or .jsonl file, a folder of text files, or a .txt of 64 MiB or more (smaller text and token .bin files need no preparing)',
    );
  }
  const dir = preparedDir(options, source);
  try {
    const ready = loadPreparedCorpus(dir);
    if (ready !== null) return ready;
  } catch (error) {
    if (!(error instanceof ShardError || error instanceof TokenizerError)) throw error;
    // A damaged shard or tokenizer in our own cache: rebuilt below, the sound shards kept.
  }

  const totalChars = textBytes([...source.train, ...(source.val ?? [])]);
  const tokenizerPath = join(dir, 'tokenizer.json');
  let tokenizer: Tokenizer | null = null;
  let trainedOnChars: number | null = null;
  let trainSeconds: number | null = null;
  if (options.tokenizer !== undefined) {
    tokenizer = loadTokenizer(options.tokenizer);
    saveTokenizer(tokenizer, tokenizerPath);
  } else {
    try {
      if (existsSync(tokenizerPath)) tokenizer = loadTokenizer(tokenizerPath);
    } catch (error) {
      if (!(error instanceof TokenizerError)) throw error;
    }
    if (tokenizer === null) {
      onProgress?.({ phase: 'tokenizer', doneChars: 0, totalChars, tokens: 0, seconds: seconds() });
      const sample = await sampleText(source, options.sampleChars ?? DEFAULT_SAMPLE_CHARS);
      trainedOnChars = sample.reduce((n, d) => n + d.length, 0);
      const model = trainBpe(sample, {
        vocabSize: options.vocabSize ?? DEFAULT_VOCAB,
        specialTokens: [END_OF_TEXT],
        minPairCount: 1,
      });
      tokenizer = new Tokenizer(model);
      saveTokenizer(tokenizer, tokenizerPath);
      trainSeconds = seconds();
    }
  }
  const eotId = tokenizer.specialId(END_OF_TEXT);
  const vocabSize = tokenizer.vocabSize;

  const shardsStarted = seconds();
  const valFraction = source.val === null ? (options.valFraction ?? DEFAULT_VAL_FRACTION) : null;
  const shardChars = options.shardChars ?? SHARD_CHARS;
  const splits = { train: [] as Promise<ShardEntry>[], val: [] as Promise<ShardEntry>[] };
  const buffers = { train: [] as string[], val: [] as string[] };
  const fill = { train: 0, val: 0 };
  const documents = { train: 0, val: 0 };
  const bytes = { train: 0, val: 0 };
  let doneChars = 0;
  let tokens = 0;
  const workers = Math.max(1, Math.min(options.workers ?? availableParallelism(), 8));
  const pool = new TokenizerPool(workers, tokenizerPath);
  const running = new Set<Promise<unknown>>();
  const report = () => onProgress?.({ phase: 'shards', doneChars, totalChars, tokens, seconds: seconds() });

  const flush = async (split: 'train' | 'val') => {
    const docs = buffers[split];
    const size = fill[split];
    buffers[split] = [];
    fill[split] = 0;
    const file = `${split}-${String(splits[split].length).padStart(5, '0')}.bin`;
    const path = join(dir, file);
    const sound = soundShard(path, vocabSize);
    if (sound !== null) {
      tokens += sound.count;
      doneChars += size;
      splits[split].push(Promise.resolve({ file, tokens: sound.count, sha256: sound.sha256 }));
      return;
    }
    // At most two shards per worker in flight: memory stays bounded however large the corpus.
    while (running.size >= 2 * workers) await Promise.race(running);
    const pending = pool.run({ documents: docs, path }).then((done) => {
      tokens += done.tokens;
      doneChars += size;
      report();
      return { file, tokens: done.tokens, sha256: done.sha256 };
    });
    const settled: Promise<boolean> = pending.then(
      () => running.delete(settled),
      () => running.delete(settled),
    );
    running.add(settled);
    splits[split].push(pending);
  };

  const add = async (split: 'train' | 'val', doc: string) => {
    buffers[split].push(doc);
    fill[split] += doc.length;
    documents[split]++;
    bytes[split] += Buffer.byteLength(doc);
    if (fill[split] >= shardChars) await flush(split);
  };

  let entries: { train: ShardEntry[]; val: ShardEntry[] };
  try {
    for await (const doc of documentsOf(source.train)) {
      const split = valFraction !== null && isValidationDocument(doc, valFraction) ? 'val' : 'train';
      await add(split, doc);
    }
    if (source.val !== null) for await (const doc of documentsOf(source.val)) await add('val', doc);
    for (const split of ['train', 'val'] as const) if (fill[split] > 0) await flush(split);
    entries = { train: await Promise.all(splits.train), val: await Promise.all(splits.val) };
  } finally {
    await pool.close();
  }
  for (const split of ['train', 'val'] as const) {
    if (entries[split].length === 0) {
      throw new CorpusError(source.name, `has no ${split === 'val' ? 'validation' : 'training'} documents`);
    }
  }
  report();
  const manifest: CorpusManifest = {
    format: FORMAT,
    corpus: source.name,
    split: valFraction === null ? 'validation-file' : 'hash',
    valFraction,
    tokenizer: {
      file: 'tokenizer.json',
      sha256: hashTokenizer(tokenizer),
      vocabSize,
      eotId,
      trainedOnChars,
      trainSeconds,
    },
    documents,
    bytes,
    train: entries.train,
    val: entries.val,
    seconds: seconds(),
    shardSeconds: seconds() - shardsStarted,
  };
  writeJsonAtomic(join(dir, 'manifest.json'), manifest);
  return { dir, manifest, tokenizer, tokenizerPath, reused: false };
}
