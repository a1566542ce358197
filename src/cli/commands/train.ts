// `bitscale train <config>`, `bitscale eval <run>`, `bitscale sample <run>`: one language-model run.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { ConfigError, parameterCount } from '../../nn/config.ts';
import { isPackedFile } from '../../onebit/packed-file.ts';
import { samplePacked } from '../../onebit/packed-run.ts';
import { resolveRunConfig } from '../../train/config.ts';
import { sampleTokens } from '../../train/generate.ts';
import { loadRun, parseOverrides } from '../../train/run.ts';
import { configHash, train } from '../../train/trainer.ts';
import { formatSeconds, progressLine } from '../progress.ts';

export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read config ${path}: ${(e as Error).message}`);
  }
  let value: unknown;
  try {
    value = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new ConfigError('config', `cannot parse (${(e as Error).message})`, path);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw new ConfigError('config', 'must be a mapping with model, data and train sections', path);
  return value as Record<string, unknown>;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train one language model from a config (JSON or YAML: model, data, train sections)')
    .argument('<config>', 'run config file')
    .option('--out <dir>', 'run folder (default: runs/<config hash>)')
    .option('--backend <name>', 'js | cpu | cuda')
    .option(
      '--set <key=value>',
      'override a config field, e.g. --set train.tokens=2e6 (repeatable)',
      collect,
      [],
    )
    .option('--cache <dir>', 'tokenizer and token-shard cache folder')
    .action((file: string, opts: { out?: string; backend?: string; set: string[]; cache?: string }) => {
      const config = resolveRunConfig(parseOverrides(readConfigFile(file), opts.set), file);
      const out = opts.out ?? `runs/${configHash(config)}`;
      const counts = parameterCount(config.model);
      console.error(
        `bitscale train: N = ${counts.nonEmbedding.toLocaleString()} non-embedding parameters (${counts.total.toLocaleString()} total) -> ${out}`,
      );
      const line = progressLine();
      const summary = train(config, {
        outDir: out,
        backend: opts.backend,
        cacheDir: opts.cache,
        bigram: true,
        onProgress: (p) =>
          line.update(
            `step ${p.step}/${p.steps}  loss ${p.loss.toFixed(4)}  ${Math.round(p.tokensPerSecond).toLocaleString()} tok/s  ETA ${formatSeconds(p.etaSeconds)}${p.valLoss === undefined ? '' : `  val ${p.valLoss.toFixed(4)}`}`,
          ),
      });
      line.done();
      console.log(JSON.stringify(summary, null, 2));
      if (summary.status === 'diverged') process.exitCode = 2;
    });

  program
    .command('sample')
    .description('generate text from a trained run, or from a packed OneBit model (bitscale pack)')
    .argument('<run>', 'run folder, checkpoint.safetensors, or a packed .safetensors file')
    .option('--prompt <text>', 'text to continue', 'Once upon a time')
    .option('--tokens <n>', 'tokens to generate', Number, 200)
    .option('--temperature <t>', 'sampling temperature (0: greedy)', Number, 0.8)
    .option('--top-k <k>', 'sample among the k most likely tokens', Number, 40)
    .option('--seed <n>', 'random seed', Number, 0)
    .option(
      '--backend <name>',
      'js | cpu | cuda (packed models: the whole decoder on that backend, on cuda every step on the GPU; without it, the host decoder)',
    )
    .option(
      '--exact',
      'packed models on the host decoder: exact fp32 sums instead of the int8 table-lookup kernel',
    )
    .action(
      (
        run: string,
        opts: {
          prompt: string;
          tokens: number;
          temperature: number;
          topK: number;
          seed: number;
          backend?: string;
          exact?: boolean;
        },
      ) => {
        if (isPackedFile(run)) {
          const kernel = opts.exact ? 'exact' : opts.backend ? undefined : 'lut';
          console.log(samplePacked(run, opts.prompt, { ...opts, maxTokens: opts.tokens, kernel }));
          return;
        }
        const { config, params, tokenizer } = loadRun(run, opts.backend);
        if (!tokenizer)
          throw new Error(`${run} has no tokenizer.json (trained on pre-tokenized data): cannot sample text`);
        const eot = tokenizer.encode('<|endoftext|>');
        const prompt = [...eot, ...tokenizer.encode(opts.prompt)];
        const out = sampleTokens(config.model, params, prompt, {
          maxTokens: opts.tokens,
          temperature: opts.temperature,
          topK: opts.topK,
          seed: opts.seed,
          stopToken: eot.length === 1 ? eot[0] : undefined,
        });
        console.log(opts.prompt + tokenizer.decode(out));
      },
    );
}
