// `bitscale data`: prepare a corpus (tokenizer + token shards, cached) and print its stats and bigram baseline.
// `bitscale data prepare`: tokenize a streamed corpus (gutenberg, .xz, .jsonl, large text) into checksummed
// shards on every core, with a progress bar; resumable, and instant when done.
import type { Command } from 'commander';
import { DataArgumentError, prepareCorpus, progressBar, summarizeData } from '../../data/index.ts';

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

interface PrepareFlags {
  corpus: string;
  validation?: string;
  vocabSize: string;
  tokenizer?: string;
  valFraction: string;
  cache?: string;
  workers?: string;
  json?: boolean;
}

function registerPrepare(data: Command): void {
  data
    .command('prepare')
    .description(
      'tokenize a streamed corpus into checksummed shards (parallel, resumable, instant when done)',
    )
    .option('--corpus <source>', 'gutenberg | a .txt/.txt.xz/.jsonl file | a folder of them', 'gutenberg')
    .option('--validation <source>', 'separate validation text (default: its own, else a hash split)')
    .option(
      '--vocab-size <n>',
      'vocabulary of the BPE tokenizer trained on a sample of the training text',
      '8192',
    )
    .option('--tokenizer <file>', 'use this tokenizer.json instead of training one')
    .option('--val-fraction <f>', 'validation share of the hash split', '0.05')
    .option('--cache <dir>', 'cache folder (default $BITSCALE_CACHE or .bitscale-cache)')
    .option('--workers <n>', 'tokenizer threads (default: one per core, at most 8)')
    .option('--json', 'print the manifest as JSON')
    .action(async (flags: PrepareFlags) => {
      const bar = progressBar(`preparing ${flags.corpus}`);
      const prepared = await prepareCorpus(
        {
          corpus: flags.corpus,
          validation: flags.validation,
          vocabSize: number('--vocab-size', flags.vocabSize),
          tokenizer: flags.tokenizer,
          valFraction: number('--val-fraction', flags.valFraction),
          cacheDir: flags.cache,
          workers: flags.workers === undefined ? undefined : number('--workers', flags.workers),
        },
        bar,
      );
      if (process.stderr.isTTY) process.stderr.write('\n');
      const m = prepared.manifest;
      if (flags.json) {
        console.log(JSON.stringify({ dir: prepared.dir, reused: prepared.reused, ...m }));
        return;
      }
      const total = (entries: { tokens: number }[]) => entries.reduce((n, e) => n + e.tokens, 0);
      console.log(`corpus      ${m.corpus} (${m.split} split)${prepared.reused ? ', already prepared' : ''}`);
      console.log(
        `tokens      train ${total(m.train).toLocaleString()} in ${m.train.length} shards, val ${total(m.val).toLocaleString()} in ${m.val.length}`,
      );
      console.log(`tokenizer   ${prepared.tokenizerPath} (vocabulary ${m.tokenizer.vocabSize})`);
      console.log(`folder      ${prepared.dir}`);
    });
}

export function registerData(program: Command): void {
  // Positional options: `data --corpus x` is the summary's flag, `data prepare --corpus x` the subcommand's.
  // Commander honours that only when every command above is positional too (the program has no options of its
  // own but --version and --help, which stay before the command, as they are written anyway).
  program.enablePositionalOptions();
  const data = program.command('data').enablePositionalOptions();
  registerPrepare(data);
  data
    .description(
      'tokenize a corpus (cached) and report its size, compression and bigram baseline (nats/token)',
    )
    .option(
      '--corpus <source>',
      'tinystories | tinyshakespeare | gutenberg | a .txt/.txt.xz/.jsonl file | a folder | a .bin',
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
