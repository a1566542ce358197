// The data path at the scale of a GPU study, on the shipped Gutenberg corpus (101 MB of text):
//   - tokenizer training: an 8k byte-level BPE from the 16M-character sample prepareCorpus takes (goal <= 60 s
//     on 2 cores), and tokenization throughput of `data prepare` (tokens/s, all cores, xz reading included);
//   - prepareData() reusing the prepared corpus in a fresh process, as every study job does (goal well < 2 s);
//   - peak resident memory while training a small model for a few hundred steps from the 100 MB corpus and from
//     a 1 GB one (Gutenberg x10: the prepared shards linked ten times into a shard folder in a temp dir, so the
//     second corpus costs no tokenizing and no disk; the 100 MB one is the same folder with one copy), with the
//     same model and tokenizer, RSS sampled after a full GC every 50 steps: equal within 10%.
// Peer: Hugging Face `tokenizers` is not packaged by Debian (apt-cache search tokenizers finds none) and PyPI
// is out of reach here, so every peer is null with that reason.
// Heavy (minutes): run it alone. Usage: npm run bench:data [-- --steps 300]
import { spawnSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../src/base/atomic-write.ts';
import { prepareCorpus, prepareData } from '../src/data/index.ts';
import { resolveRunConfig } from '../src/train/config.ts';
import { train } from '../src/train/trainer.ts';
import { figure, machineDescription } from './machine.ts';

const args = process.argv.slice(2);
const flag = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const steps = Number(flag('--steps') ?? 300);
const VOCAB = 8192;
const NO_PEER =
  'no peer: Hugging Face tokenizers is not in Debian (apt-cache search tokenizers) and PyPI is unreachable';
const self = new URL(import.meta.url).pathname;

/** Child mode: prepareData's time on a prepared corpus, in a fresh process. */
function reuseChild(cacheDir: string): void {
  const started = performance.now();
  const data = prepareData({ corpus: 'gutenberg', vocabSize: VOCAB, cacheDir });
  const seconds = (performance.now() - started) / 1000;
  console.log(JSON.stringify({ seconds, cache: data.stats.cache, trainTokens: data.train.length }));
}

/** Child mode: train a small model from a corpus; peak RSS sampled at every step. */
function rssChild(corpus: string, cacheDir: string, outDir: string, tokenizer?: string): void {
  const config = resolveRunConfig({
    model: { dModel: 64, nLayers: 2, nHeads: 2, context: 64 },
    data: { corpus, vocabSize: VOCAB, ...(tokenizer === undefined ? {} : { tokenizer }) },
    train: { tokens: steps * 8 * 64, batchSize: 8, evalTokens: 8192, evalEvery: 100, checkpointEvery: 0 },
  });
  // Raw RSS at every step, and RSS after a full collection every 50 steps: the raw peak moves by tens of MiB
  // with V8's heap sizing between collections; the collected one shows what the process really holds.
  const gc = (globalThis as { gc?: () => void }).gc!;
  let peak = 0;
  let peakAfterGc = 0;
  const sample = (p?: { step: number }) => {
    peak = Math.max(peak, process.memoryUsage().rss);
    if (p === undefined || p.step % 50 === 0) {
      gc();
      peakAfterGc = Math.max(peakAfterGc, process.memoryUsage().rss);
    }
  };
  const started = performance.now();
  const data = prepareData({ ...config.data, cacheDir });
  const summary = train(config, { outDir, data, backend: 'cpu', onProgress: sample });
  sample();
  console.log(
    JSON.stringify({
      peakRssMiB: peakAfterGc / 2 ** 20,
      rawPeakRssMiB: peak / 2 ** 20,
      trainTokens: data.train.length,
      valLoss: summary.valLoss,
      seconds: (performance.now() - started) / 1000,
    }),
  );
}

function child(mode: string[]): Record<string, unknown> {
  const out = spawnSync(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', self, '--steps', String(steps), ...mode],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, BITSCALE_THREADS: process.env.BITSCALE_THREADS ?? '1' },
    },
  );
  if (out.status !== 0) throw new Error(`bench child ${mode.join(' ')} failed (exit ${out.status})`);
  return JSON.parse(out.stdout.trim().split('\n').pop()!);
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'bitscale-bench-data-'));
  try {
    const cacheDir = join(work, 'cache');
    console.error(
      `preparing gutenberg (vocabulary ${VOCAB}) from scratch on ${availableParallelism()} cores...`,
    );
    const prepared = await prepareCorpus({ corpus: 'gutenberg', vocabSize: VOCAB, cacheDir });
    const m = prepared.manifest;
    const tokens = [...m.train, ...m.val].reduce((n, e) => n + e.tokens, 0);
    const throughput = tokens / m.shardSeconds;
    console.error(
      `tokenizer ${m.tokenizer.trainSeconds?.toFixed(1)} s on ${m.tokenizer.trainedOnChars} chars; ${tokens} tokens in ${m.shardSeconds.toFixed(1)} s`,
    );
    const reuse = child(['--reuse', cacheDir]);
    console.error(
      `prepareData on the prepared corpus in a fresh process: ${(reuse.seconds as number).toFixed(2)} s`,
    );

    // Both corpora as shard folders of the prepared Gutenberg shards, linked (no copy) once and ten times, read
    // by the same code with the same tokenizer: the two runs differ only in how much data lies behind them.
    const linked = (times: number) => {
      const folder = join(work, `gutenberg-x${times}`);
      mkdirSync(folder);
      for (let r = 0; r < times; r++) {
        for (const e of m.train) linkSync(join(prepared.dir, e.file), join(folder, `train-${r}-${e.file}`));
      }
      for (const e of m.val) linkSync(join(prepared.dir, e.file), join(folder, e.file));
      return folder;
    };
    const rss = (times: number) =>
      child(['--rss', linked(times), cacheDir, join(work, `run-x${times}`), prepared.tokenizerPath]);
    const small = rss(1);
    const large = rss(10);
    console.error(`peak RSS: 100 MB corpus ${JSON.stringify(small)}; 1 GB corpus ${JSON.stringify(large)}`);

    const note = { note: NO_PEER };
    const figures = [
      {
        ...figure(
          `tokenizer training: ${VOCAB} BPE on a ${m.tokenizer.trainedOnChars}-char sample of Gutenberg (read through xz included)`,
          m.tokenizer.trainSeconds!,
          null,
          's',
          false,
        ),
        ...note,
      },
      {
        ...figure(
          `tokenization throughput: bitscale data prepare on Gutenberg (${tokens} tokens, ${availableParallelism()} workers, xz reading included)`,
          throughput,
          null,
          'tokens/s',
        ),
        ...note,
      },
      {
        ...figure(
          'prepareData reusing prepared Gutenberg in a fresh process',
          reuse.seconds as number,
          null,
          's',
          false,
        ),
        ...note,
      },
      {
        ...figure(
          `peak RSS after full GC, training ${steps} steps (d64, 2 layers, T64, B8, cpu) from the 100 MB corpus`,
          small.peakRssMiB as number,
          null,
          'MiB',
          false,
        ),
        ...note,
      },
      // peer = the 100 MB run: the ratio is the 1 GB run's memory against it (the bar: within 10%).
      figure(
        `peak RSS after full GC, training ${steps} steps from the 1 GB corpus (Gutenberg x10), against the 100 MB corpus`,
        large.peakRssMiB as number,
        small.peakRssMiB as number,
        'MiB',
        false,
      ),
    ];
    writeFileAtomic(
      'bench/results/data.json',
      `${JSON.stringify(
        {
          machine: machineDescription(),
          date: new Date().toISOString(),
          corpus: {
            tokens: {
              train: m.train.reduce((n, e) => n + e.tokens, 0),
              val: m.val.reduce((n, e) => n + e.tokens, 0),
            },
            bytes: m.bytes,
            documents: m.documents,
          },
          prepare: {
            seconds: m.seconds,
            shardSeconds: m.shardSeconds,
            tokenizerSeconds: m.tokenizer.trainSeconds,
          },
          reuse,
          rss: { corpus100MB: small, corpus1GB: large },
          figures,
        },
        null,
        2,
      )}\n`,
    );
    for (const f of figures) console.log(JSON.stringify(f));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (flag('--reuse') !== undefined) reuseChild(flag('--reuse')!);
else if (flag('--rss') !== undefined) {
  const at = args.indexOf('--rss');
  rssChild(args[at + 1], args[at + 2], args[at + 3], args[at + 4]);
} else await main();
