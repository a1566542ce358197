// `bitscale eval`'s library side: the sliding-window perplexity of a model on a user's text, and for each
// requested post-training quantization (src/ptq: RTN in any format and granularity, GPTQ, W8A8) the perplexity of
// the quantized model and delta = its mean NLL minus the unquantized one (nats/token, the paper's δ_PTQ).

import type { ModelConfig } from '../nn/config.ts';
import type { ConfigIssue } from '../nn/fields.ts';
import type { PtqVariant } from '../ptq/evaluate-ptq.ts';
import { ptqModel } from '../ptq/ptq-model.ts';
import { checkPtqOptions, defaultPtq, PtqError, type PtqOptions } from '../ptq/quantize-model.ts';
import { groupOf } from '../ptq/settings.ts';
import { HfModelError } from './errors.ts';
import type { LoadOptions } from './load.ts';
import { openModel } from './open-model.ts';
import { type PerplexityOptions, type PerplexityResult, slidingWindowPerplexity } from './perplexity.ts';

export interface TextEvalOptions extends LoadOptions {
  window?: number;
  stride?: number;
  quantize?: PtqVariant[];
  /** GPTQ calibration text (default: the evaluated text itself). */
  calibrationText?: string;
  onProgress?: (stage: string, done: number, total: number) => void;
}

export interface QuantizedEval {
  format: string;
  method: string;
  groupSize: number;
  /** Linear inputs' precision ('fp32': weight-only), and whether LLM.int8's outlier dimensions stayed fp32. */
  activations: string;
  decomposed: boolean;
  perplexity: number;
  nll: number;
  delta: number;
  seconds: number;
}

export interface TextEvalResult {
  model: string;
  kind: string;
  textTokens: number;
  base: PerplexityResult;
  quantized: QuantizedEval[];
}

/** PTQ options checked against the model's widths (a loaded model's attention width may differ from d_model). */
export function checkPtqForModel(config: ModelConfig, variant: PtqVariant): PtqOptions {
  const options: PtqOptions = {
    ...defaultPtq,
    ...Object.fromEntries(Object.entries(variant).filter(([, v]) => v !== undefined)),
  } as PtqOptions;
  checkPtqOptions(config, options);
  const a = config.arch;
  if (a && a.headSize * config.nHeads !== config.dModel) {
    const group = groupOf(options.format, options.groupSize);
    const width = a.headSize * config.nHeads;
    if (group > 0 && width % group !== 0) {
      const issues: ConfigIssue[] = [
        { field: 'groupSize', message: `${group} does not divide the attention width ${width}` },
      ];
      throw new PtqError(issues);
    }
  }
  return options;
}

export function evaluateText(modelPath: string, text: string, options: TextEvalOptions = {}): TextEvalResult {
  const model = openModel(modelPath, options);
  try {
    if (!model.encode)
      throw new HfModelError(modelPath, 'tokenizer.json', 'missing: cannot tokenize the text');
    const variants = (options.quantize ?? []).map((v) => checkPtqForModel(model.config, v));
    const ids = model.encode(text);
    const perplexity = (params: typeof model.params, stage: string, hooks?: PerplexityOptions['hooks']) =>
      slidingWindowPerplexity(model.config, params, ids, {
        window: options.window,
        stride: options.stride,
        hooks,
        onWindow: (done, total) => options.onProgress?.(stage, done, total),
      });
    const base = perplexity(model.params, 'as loaded');
    const calibration = Uint32Array.from(
      options.calibrationText === undefined ? ids : model.encode(options.calibrationText),
    );
    const _backend = model.params.values().next().value!.backend;
    const quantized = variants.map((opts): QuantizedEval => {
      const started = performance.now();
      // Calibration (GPTQ's Hessians, LLM.int8's outlier dimensions) in windows the calibration text can hold.
      const calibrationWindow = Math.min(options.window ?? model.config.context, calibration.length - 1);
      const q = ptqModel({ ...model.config, context: calibrationWindow }, model.params, calibration, opts, 1);
      try {
        const label = `${opts.method} ${opts.format}${q.hooks ? ` a${opts.activations}` : ''}`;
        const r = perplexity(q.params, label, q.hooks);
        return {
          format: opts.format,
          method: opts.method,
          groupSize: opts.groupSize,
          activations: opts.activations,
          decomposed: opts.decompose,
          perplexity: r.perplexity,
          nll: r.nll,
          delta: r.nll - base.nll,
          seconds: (performance.now() - started) / 1000,
        };
      } finally {
        q.dispose();
      }
    });
    return { model: modelPath, kind: model.kind, textTokens: ids.length, base, quantized };
  } finally {
    for (const p of model.params.values()) p.dispose();
  }
}
