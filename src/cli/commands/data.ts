// `bitscale data`: prepare a corpus (tokenizer + token shards, cached) and print its stats and bigram baseline.
import type { Command } from 'commander';
import { DataArgumentError, summarizeData } from '../../data/index.ts';

interface DataFlags {
  corpus: string;
  validation?: string;
  vocabSize: string;
  tokenizer?: string;
  valFraction: string;
  cache?: string;
  saveTokenizer?: string;
  json?: boolean;
}

function number(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new DataArgumentError(flag, value, 'a number');
  return n;
}

export function registerData(program: Command): void {
  program
    .command('data')
    .description(
      'tokenize a corpus (cached) and report its size, compression and bigram baseline (nats/token)',
    )
    .option(
      '--corpus <source>',
      'tinystories | tinyshakespeare | a .txt file | a folder | a .bin',
      'tinystories',
    )
    .option('--validation <source>', 'separate validation corpus (default: its own, else a hash split)')
    .option('--vocab-size <n>', 'vocabulary of the BPE tokenizer trained on the training text', '2048')
    .option('--tokenizer <file>', 'use this tokenizer.json instead of training one')
    .option('--val-fraction <f>', 'validation share of the hash split', '0.05')
    .option('--cache <dir>', 'cache folder (default $BITSCALE_CACHE or .bitscale-cache)')
    .option('--save-tokenizer <file>', 'also write the tokenizer.json here')
    .option('--json', 'print one JSON object instead of text')
    .action((flags: DataFlags) => {
      const summary = summarizeData({
        corpus: flags.corpus,
        validation: flags.validation,
        vocabSize: number('--vocab-size', flags.vocabSize),
        tokenizer: flags.tokenizer,
        valFraction: number('--val-fraction', flags.valFraction),
        cacheDir: flags.cache,
        saveTokenizerTo: flags.saveTokenizer,
      });
      if (flags.json) {
        console.log(JSON.stringify(summary));
        return;
      }
      const s = summary;
      const docs = s.documents === null ? '' : ` in ${s.documents.train} + ${s.documents.val} documents`;
      console.log(`corpus      ${s.corpus} (${s.split} split)`);
      console.log(
        `tokens      train ${s.tokens.train.toLocaleString()}, val ${s.tokens.val.toLocaleString()}${docs}`,
      );
      console.log(
        `vocabulary  ${s.vocabSize}${s.bytesPerToken === null ? '' : `, ${s.bytesPerToken.toFixed(2)} bytes/token`}`,
      );
      console.log(`cache       tokenizer ${s.cache.tokenizer}, train ${s.cache.train}, val ${s.cache.val}`);
      console.log(
        `bigram      ${s.bigramValLoss.toFixed(4)} nats/token on validation (Kneser-Ney, d = ${s.bigramDiscount})`,
      );
      console.log(`            a model 25% better needs val loss <= ${(0.75 * s.bigramValLoss).toFixed(4)}`);
      if (s.savedTokenizer) console.log(`tokenizer   ${s.savedTokenizer}`);
    });
}
