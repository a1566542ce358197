// Post-training quantization of a trained model: every linear layer's weight rounded to P_post bits by
// round-to-nearest (any numerics format) or GPTQ (integer formats), embeddings and norms left in full precision.
// Activations (W8A8 and kin) are quantized in the forward by ./activation-quant.ts; with LLM.int8's
// decomposition, the weight columns of the outlier input dimensions stay in full precision here.

import { registerNativeGptq } from '../backends/cpu/gptq-kernels.ts';
import type { TokenSource } from '../data/index.ts';
import type { ConfigIssue, ModelConfig } from '../nn/config.ts';
import { isLinearWeight, type Params } from '../nn/transformer.ts';
import { fakeQuantArray } from '../numerics/fake-quant.ts';
import { gptqQuantize } from '../numerics/gptq.ts';
import { gptqKernels } from '../numerics/gptq-kernels.ts';
import { type FakeQuantSpec, parseFormat, quantSpec } from '../numerics/spec.ts';
import { elementBits } from '../numerics/storage-bits.ts';
import * as T from '../tensor/index.ts';
import { linearHessians } from './calibrate.ts';
import {
  checkPtqVariant,
  defaultOutlierThreshold,
  defaultPtqSettings,
  PtqError,
  type PtqMethod,
} from './settings.ts';

export { PtqError, type PtqMethod } from './settings.ts';

export interface PtqOptions {
  /** A numerics format name: 'int4', 'int3', 'fp8_e4m3', 'nf4', ... */
  format: string;
  method: PtqMethod;
  /** Columns sharing a scale; 0 = one scale per output channel. */
  groupSize: number;
  /** GPTQ: calibration tokens from the training split, act-order. */
  calibrationTokens: number;
  actOrder: boolean;
  seed: number;
  /** Linear inputs' precision, quantized per token ('fp32': weight-only PTQ). */
  activations: string;
  /** LLM.int8 decomposition: input dimensions with |x| >= outlierThreshold on calibration data stay in full
   *  precision (activations and their weight columns). */
  decompose: boolean;
  outlierThreshold: number;
}

export const defaultPtq: Omit<PtqOptions, 'format' | 'method'> = {
  groupSize: defaultPtqSettings.groupSize,
  calibrationTokens: defaultPtqSettings.calibrationTokens,
  actOrder: true,
  seed: 1234,
  activations: 'fp32',
  decompose: false,
  outlierThreshold: defaultOutlierThreshold,
};

function rtnSpec(options: PtqOptions): FakeQuantSpec {
  const base = quantSpec(options.format);
  if (base.granularity.kind !== 'tensor' || base.scale.kind === 'none') return base; // MX/NF4 blocks, casts
  const granularity =
    options.groupSize > 0 ? { kind: 'group' as const, size: options.groupSize } : { kind: 'row' as const };
  return quantSpec(options.format, { granularity });
}

/** Throws a PtqError listing every problem of the options for this model, before any work. */
export function checkPtqOptions(model: ModelConfig, options: PtqOptions): void {
  const issues: ConfigIssue[] = [];
  const fields = {
    format: 'format',
    method: 'method',
    groupSize: 'groupSize',
    activations: 'activations',
    decompose: 'decompose',
  };
  checkPtqVariant(options, fields, issues, [
    { name: 'd_model', value: model.dModel },
    { name: 'd_ff', value: model.dFf },
  ]);
  if (!(options.outlierThreshold > 0))
    issues.push({
      field: 'outlierThreshold',
      message: `must be a number > 0, got ${options.outlierThreshold}`,
    });
  const minimum = { groupSize: 0, calibrationTokens: 1, seed: 0 };
  for (const [field, min] of Object.entries(minimum)) {
    const v = options[field as keyof typeof minimum];
    if (!Number.isSafeInteger(v) || v < min)
      issues.push({ field, message: `must be an integer >= ${min}, got ${JSON.stringify(v)}` });
  }
  if (issues.length > 0) throw new PtqError(issues);
}

/**
 * A copy of params with every linear weight quantized (other tensors are shared, not copied). Columns listed in
 * keepColumns (per weight name: LLM.int8's outlier input dimensions) stay in full precision and take no part in
 * their row's scale.
 */
export function quantizeModel(
  model: ModelConfig,
  params: Params,
  trainTokens: TokenSource,
  options: PtqOptions,
  keepColumns?: Map<string, number[]>,
): Params {
  checkPtqOptions(model, options);
  const format = parseFormat(options.format);
  // GPTQ's column loops on native kernels where an addon has them: the backend in use registered its own,
  // else the CPU addon's if it is built.
  if (options.method === 'gptq' && !gptqKernels()) registerNativeGptq();
  const hessians =
    options.method === 'gptq'
      ? linearHessians(model, params, trainTokens, options.calibrationTokens, 8, options.seed)
      : null;
  const out: Params = new Map();
  for (const [name, p] of params) {
    if (!isLinearWeight(name)) {
      out.set(name, p);
      continue;
    }
    const [rows, cols] = p.shape;
    const w = Float32Array.from(p.toArray());
    let q: Float32Array;
    if (hessians) {
      const h = hessians.get(name);
      if (!h) throw new PtqError('calibration', `no activations reached ${name}`);
      q = gptqQuantize(w, rows, cols, h, {
        bits: (format as { bits: number }).bits,
        groupSize: options.groupSize,
        actOrder: options.actOrder,
      }).weight;
    } else {
      const kept = keepColumns?.get(name) ?? [];
      const rest = kept.length > 0 ? Float32Array.from(w) : w;
      for (let r = 0; r < rows; r++) for (const c of kept) rest[r * cols + c] = 0;
      q = new Float32Array(w.length);
      fakeQuantArray(rtnSpec(options), rest, q, rows, cols, null);
      for (let r = 0; r < rows; r++) for (const c of kept) q[r * cols + c] = w[r * cols + c];
    }
    const t = T.tensor(q, [rows, cols], { backend: p.backend }).keep();
    t.name = name;
    out.set(name, t);
  }
  return out;
}

/** Bits per quantized element of the format (scales and zero points are accounted by numerics' storageBits). */
export const ptqElementBits = (format: string) => elementBits(quantSpec(format));

/** Disposes the tensors quantizeModel created (not the shared ones). */
export function disposeQuantized(original: Params, quantized: Params): void {
  for (const [name, t] of quantized) if (original.get(name) !== t) t.dispose();
}
