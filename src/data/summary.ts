// What `bitscale data` prints: the prepared corpus's stats and the bigram bar a language model must clear.

import { BIGRAM_TRAIN_TOKENS, bigramCrossEntropy, fitBigram } from './bigram.ts';
import { type DataStats, type PrepareDataOptions, prepareData } from './prepare.ts';
import { saveTokenizer } from './tokenizer_json.ts';

export interface DataSummary extends DataStats {
  /** Interpolated Kneser-Ney bigram fitted on the training tokens: nats/token on the validation tokens. */
  bigramValLoss: number;
  bigramDiscount: number;
  /** Where the tokenizer was copied, when asked. */
  savedTokenizer: string | null;
}

export function summarizeData(options: PrepareDataOptions & { saveTokenizerTo?: string }): DataSummary {
  const data = prepareData(options);
  const bigram = fitBigram(
    data.train.subarray(0, Math.min(data.train.length, BIGRAM_TRAIN_TOKENS)),
    data.vocabSize,
  );
  let savedTokenizer: string | null = null;
  if (options.saveTokenizerTo !== undefined && data.tokenizer !== null) {
    saveTokenizer(data.tokenizer, options.saveTokenizerTo);
    savedTokenizer = options.saveTokenizerTo;
  }
  return {
    ...data.stats,
    bigramValLoss: bigramCrossEntropy(bigram, data.val),
    bigramDiscount: bigram.discount,
    savedTokenizer,
  };
}
