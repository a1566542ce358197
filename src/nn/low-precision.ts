// Which path a run's linear layers compute their low precision on: FP8 tensor cores (a real FP8 product,
// src/tensor/ops/fp8.ts) or fake quantization around higher-precision matmuls (the emulation). The choice is
// the train option lowPrecisionCompute: 'native' (FP8 hardware or an error), 'emulate' (fake quantization),
// 'auto' (native where the format and the backend allow it, else fake quantization with a one-time warning).
import type { Backend } from '../backends/backend.ts';
import { FP8_MULTIPLE, fp8ProblemOf } from '../tensor/ops/fp8.ts';
import type { ModelConfig } from './config.ts';
import { ConfigError } from './fields.ts';

export const lowPrecisionModes = ['native', 'emulate', 'auto'] as const;
export type LowPrecisionMode = (typeof lowPrecisionModes)[number];

/** What a run's linear layers used, as its summary records it. */
export interface LinearComputePath {
  /** The linear layers' format as configured, e.g. "weights fp8_e4m3/tensor, activations fp8_e4m3/tensor". */
  format: string;
  /** native-fp8: FP8 tensor cores; fake-quant: rounding around fp32/bf16 matmuls; full-precision: no quantization. */
  path: 'native-fp8' | 'fake-quant' | 'full-precision';
  requested: LowPrecisionMode;
  /** Why fake quantization where native was possible to ask for. */
  reason?: string;
}

const NATIVE = "weights and activations fp8_e4m3 with weightGranularity and activationGranularity 'tensor'";

/** Null when the model's linear layers have a format FP8 products compute exactly, else why not. */
export function nativeFormatProblem(model: ModelConfig, tokensPerStep: number): string | null {
  const p = model.precision;
  const wg = p.weightGranularity ?? 'row';
  const ag = p.activationGranularity ?? 'tensor';
  if (model.onebit) return 'OneBit layers have no FP8 product';
  if (p.weights !== 'fp8_e4m3' || p.activations !== 'fp8_e4m3' || wg !== 'tensor' || ag !== 'tensor')
    return 'no FP8 product computes this format';
  const widths = [model.dModel, model.dFf, tokensPerStep];
  if (model.arch) widths.push(model.nHeads * model.arch.headSize, model.arch.nKvHeads * model.arch.headSize);
  if (widths.some((w) => w % FP8_MULTIPLE !== 0))
    return `d_model ${model.dModel}, d_ff ${model.dFf}, tokens per step ${tokensPerStep}: FP8 products need multiples of ${FP8_MULTIPLE}`;
  return null;
}

export function formatOf(model: ModelConfig): string {
  const p = model.precision;
  return `weights ${p.weights}/${p.weightGranularity ?? 'row'}, activations ${p.activations}/${p.activationGranularity ?? 'tensor'}`;
}

const warned = new Set<string>();

/**
 * The path for this run. Throws a ConfigError naming `field` when 'native' cannot be honoured; under 'auto' an
 * FP8 format that cannot run natively here falls back to fake quantization, warning once per process (other
 * formats, integers say, have no FP8 product to miss and are emulated without a word).
 */
export function planLinearCompute(
  model: ModelConfig,
  mode: LowPrecisionMode,
  backend: Backend,
  tokensPerStep: number,
  field = 'train.lowPrecisionCompute',
  warn: (message: string) => void = (m) => console.warn(`warning: ${m}`),
): LinearComputePath {
  const format = formatOf(model);
  const p = model.precision;
  if (p.weights === 'fp32' && p.activations === 'fp32')
    return { format, path: 'full-precision', requested: mode };
  if (mode === 'emulate') return { format, path: 'fake-quant', requested: mode };
  const formatProblem = nativeFormatProblem(model, tokensPerStep);
  const problem = formatProblem ?? fp8ProblemOf(backend);
  if (problem === null) return { format, path: 'native-fp8', requested: mode };
  if (mode === 'native')
    throw new ConfigError(
      field,
      `'native' cannot run ${format} on the ${backend.name} backend: ${problem}. Allowed: 'native' for ${NATIVE} on a GPU of compute capability 8.9 or higher; 'emulate' or 'auto' (fake quantization) for any format`,
    );
  // auto: integer and other formats without an FP8 product are simply emulated; FP8 formats that cannot run
  // natively here (this backend, or scales per row) say so once.
  const fp8Format = [p.weights, p.activations].some((f) => f.startsWith('fp8_'));
  if (formatProblem === null || fp8Format) {
    const message = `${field} 'auto': ${format} runs as fake quantization on the ${backend.name} backend (${problem}; native: ${NATIVE} on compute capability 8.9+)`;
    if (!warned.has(message)) {
      warned.add(message);
      warn(message);
    }
  }
  return { format, path: 'fake-quant', requested: mode, reason: problem };
}
