// `bitscale eval <model> --text file.txt`: sliding-window perplexity of a Hugging Face folder or a bitscale run
// on a text, and with --quantize the perplexity and δ (nats/token) after post-training quantization.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { prepareData } from '../../data/index.ts';
import { evaluateText } from '../../hf/evaluate-text.ts';
import type { ConfigIssue } from '../../nn/fields.ts';
import { checkPtqVariant, PtqError, type PtqMethod, ptqFormats } from '../../ptq/settings.ts';
import { evaluate } from '../../train/evaluate.ts';
import { loadRun } from '../../train/run.ts';
import { progressLine } from '../progress.ts';

interface EvalFlags {
  text?: string;
  tokens?: number;
  window?: number;
  stride?: number;
  quantize?: string;
  method: string;
  groupSize: number;
  calibrationTokens: number;
  calibrationText?: string;
  activations: string;
  decompose?: boolean;
  outlierThreshold: number;
  backend?: string;
  json?: boolean;
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description(
      "perplexity of a model (Hugging Face folder or bitscale run) on a text, --quantize adds PTQ δ; without --text, a run's validation loss",
    )
    .argument(
      '<model>',
      'a Hugging Face model folder (config.json, safetensors, tokenizer.json) or a run folder',
    )
    .option('--text <file>', 'UTF-8 text to score')
    .option('--tokens <n>', "without --text: validation tokens of the run's data to use", Number)
    .option('--window <n>', "tokens per window (default: the model's context)", Number)
    .option('--stride <n>', 'tokens between window starts (default: window / 2)', Number)
    .option('--quantize <formats>', `comma-separated PTQ formats (${ptqFormats.join(', ')})`)
    .option('--method <m>', 'rtn | gptq', 'rtn')
    .option('--group-size <g>', 'columns sharing a scale (0: per output channel)', Number, 0)
    .option('--calibration-tokens <n>', 'GPTQ calibration tokens', Number, 8192)
    .option('--calibration-text <file>', 'GPTQ calibration text (default: the evaluated text)')
    .option(
      '--activations <name>',
      'with --quantize: linear inputs per token at this precision (W8A8: int8)',
      'fp32',
    )
    .option(
      '--decompose',
      "LLM.int8 decomposition: the calibration text's outlier input dimensions stay fp32",
    )
    .option('--outlier-threshold <x>', 'decomposition: |x| marking an outlier dimension', Number, 6)
    .option('--backend <name>', 'js | cpu | cuda')
    .option('--json', 'print the result as JSON')
    .action((model: string, opts: EvalFlags) => {
      if (opts.text === undefined) {
        runValidationLoss(model, opts);
        return;
      }
      const formats = opts.quantize ? opts.quantize.split(',').map((s) => s.trim()) : [];
      const issues: ConfigIssue[] = [];
      const flags = {
        format: '--quantize',
        method: '--method',
        groupSize: '--group-size',
        activations: '--activations',
        decompose: '--decompose',
      };
      const decompose = opts.decompose === true;
      for (const format of formats) checkPtqVariant({ ...opts, decompose, format }, flags, issues);
      if (issues.length > 0) throw new PtqError(issues);
      const progress = progressLine();
      const result = evaluateText(model, readFileSync(opts.text, 'utf8'), {
        window: opts.window,
        stride: opts.stride,
        backend: opts.backend,
        calibrationText: opts.calibrationText ? readFileSync(opts.calibrationText, 'utf8') : undefined,
        quantize: formats.map((format) => ({
          format,
          method: opts.method as PtqMethod,
          groupSize: opts.groupSize,
          calibrationTokens: opts.calibrationTokens,
          activations: opts.activations,
          decompose,
          outlierThreshold: opts.outlierThreshold,
        })),
        onProgress: (stage, done, total) => progress.update(`${stage}: window ${done}/${total}`),
      });
      progress.done();
      if (opts.json) {
        console.log(JSON.stringify(result, null, 2));
        return;
      }
      const b = result.base;
      console.log(
        `${result.model} (${result.kind}): ${result.textTokens} tokens, window ${b.window}, stride ${b.stride}`,
      );
      console.log(`  as loaded  perplexity ${b.perplexity.toFixed(4)}  nll ${b.nll.toFixed(5)}`);
      for (const q of result.quantized)
        console.log(
          `  ${q.method} ${q.format}${q.groupSize ? ` g${q.groupSize}` : ''}${q.activations === 'fp32' ? '' : ` act ${q.activations}${q.decomposed ? ' +LLM.int8' : ''}`}  perplexity ${q.perplexity.toFixed(4)}  δ ${q.delta.toFixed(5)} nats/token`,
        );
    });
}

/** A run's validation loss (nats/token) on its own validation data, as `bitscale eval <run>` always gave. */
function runValidationLoss(run: string, opts: EvalFlags): void {
  const { config, params } = loadRun(run, opts.backend);
  const data = prepareData(config.data);
  const loss = evaluate(
    config.model,
    params,
    data.val,
    config.train.batchSize,
    opts.tokens ?? config.train.evalTokens,
  );
  console.log(JSON.stringify({ valLoss: loss }));
}
