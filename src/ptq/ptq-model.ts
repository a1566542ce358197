// One PTQ variant applied to a model for evaluation: LLM.int8's outlier columns when it decomposes, the
// quantized weights, and the forward hooks that quantize the linear inputs (W8A8 and kin). dispose() frees
// what it made; the original parameters stay untouched.
import type { TokenSource } from '../data/index.ts';
import type { ModelConfig } from '../nn/config.ts';
import type { ForwardOptions, Params } from '../nn/transformer.ts';
import { activationQuantizer, outlierColumns } from './activation-quant.ts';
import { disposeQuantized, type PtqOptions, quantizeModel } from './quantize-model.ts';

export interface PtqModel {
  params: Params;
  hooks?: Pick<ForwardOptions, 'linearInput'>;
  /** Per linear weight, the input dimensions kept in full precision; null without decomposition. */
  keep: Map<string, number[]> | null;
  dispose(): void;
}

/** `model.context` is the calibration window: a model whose context exceeds its calibration text passes less. */
export function ptqModel(
  model: ModelConfig,
  params: Params,
  calibration: TokenSource,
  opts: PtqOptions,
  calibrationBatch: number,
): PtqModel {
  const keep = opts.decompose
    ? outlierColumns(
        model,
        params,
        calibration,
        opts.calibrationTokens,
        calibrationBatch,
        opts.seed,
        opts.outlierThreshold,
      )
    : null;
  const quantized = quantizeModel(model, params, calibration, opts, keep ?? undefined);
  const backend = params.values().next().value!.backend;
  const acts = opts.activations === 'fp32' ? null : activationQuantizer(opts.activations, keep, backend);
  return {
    params: quantized,
    hooks: acts?.hooks,
    keep,
    dispose: () => {
      acts?.dispose();
      disposeQuantized(params, quantized);
    },
  };
}
