// bitscale's data layer: corpora, a byte-level BPE tokenizer, token shards, batches, and the bigram baseline.
//
// The trainer needs one call:
//
//   const data = prepareData({ corpus: 'tinystories', vocabSize: 2048, cacheDir: '.bitscale-cache' });
//   // data.tokenizer (Tokenizer), data.train / data.val (Uint16Array | Uint32Array token streams, each
//   // document preceded by <|endoftext|> = data.eotId), data.vocabSize, data.stats (counts, cache hits).
//   const sampler = new BatchSampler(data.train, B, T, seed); sampler.batch(step) -> { inputs, targets } (B, T)
//   for (const batch of validationBatches(data.val, B, T)) ...   every validation token once, in order
//   const bigram = bigramBaseline(data.train, data.val, data.vocabSize) -> nats/token the model must beat
//
// `corpus` is an embedded name ('tinystories', 'tinyshakespeare', 'gutenberg'), a .txt file, a folder of .txt
// files or a pre-tokenized .bin; large, compressed (.xz) and .jsonl text and folders of .bin shards are streamed
// (prepareCorpus, `bitscale data prepare`) and data.train is then read from shards in bounded memory; `validation` a separate validation corpus (else TinyStories' own, else a hash split by
// document with `valFraction`); `tokenizer` a tokenizer.json to use instead of training one. The tokenizer
// is trained on the training documents only and cached, as are the token shards, under the cache folder.

export { type BigramModel, bigramCrossEntropy, fitBigram } from './bigram.ts';
export { type BpeModel, type BpeTrainOptions, trainBpe } from './bpe_train.ts';
export { BYTE_TO_UNICODE, pretokenize, UNICODE_TO_BYTE } from './byte_level.ts';
export {
  type Corpus,
  EMBEDDED_CORPORA,
  EMBEDDED_CORPORA_DIR,
  loadCorpus,
  type TextCorpus,
  type TokenCorpus,
} from './corpus.ts';
export { END_OF_TEXT, splitDocuments } from './documents.ts';
export { CorpusError, DataArgumentError, DataError, TokenizerError } from './errors.ts';
export { type DataStats, type PrepareDataOptions, type PreparedData, prepareData } from './prepare.ts';
export {
  type PrepareCorpusOptions,
  type PreparedCorpus,
  type PrepareProgress,
  prepareCorpus,
  ShardError,
} from './prepare_corpus.ts';
export { progressBar } from './progress.ts';
export { type Batch, BatchSampler, validationBatches } from './sampler.ts';
export { resolveCacheDir } from './shards.ts';
export { STREAMED_CORPORA, type StreamSource, streamSource } from './sources.ts';
export { splitByHash } from './split.ts';
export { readTokenFile, type TokenArray, writeTokenFile } from './token_file.ts';
export { materialize, ShardedTokens, type TokenSource } from './token_source.ts';
export { Tokenizer, type TokenizerOptions } from './tokenizer.ts';
export { loadTokenizer, saveTokenizer, tokenizerFromJson, toTokenizerJson } from './tokenizer_json.ts';

import { BIGRAM_TRAIN_TOKENS, bigramCrossEntropy, fitBigram } from './bigram.ts';
import type { TokenArray } from './token_file.ts';
import type { TokenSource } from './token_source.ts';

/** The baseline in one call: fit on the training tokens, cross-entropy (nats/token) on the validation ones. */
export function bigramBaseline(
  train: TokenSource,
  val: TokenArray,
  vocabSize: number,
): { crossEntropy: number; discount: number } {
  const model = fitBigram(train.subarray(0, Math.min(train.length, BIGRAM_TRAIN_TOKENS)), vocabSize);
  return { crossEntropy: bigramCrossEntropy(model, val), discount: model.discount };
}
export { type DataSummary, summarizeData } from './summary.ts';
