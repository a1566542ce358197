// Precision per component of a language model, as in Kumar et al.: weights P_w, activations P_a (the inputs
// of every linear layer) and the KV cache P_kv (keys and values as attention uses them). Each is 'fp32'
// (no quantization) or a numerics format name, applied as straight-through fake quantization in training.
import { type FakeQuantSpec, formatNames, type Granularity, quantSpec } from '../numerics/spec.ts';

export interface PrecisionConfig {
  weights: string;
  activations: string;
  kv: string;
  /** Scale sharing: weights per output channel, activations per tensor (the paper's setting), KV per head row. */
  weightGranularity?: 'tensor' | 'row' | `group${number}`;
  activationGranularity?: 'tensor' | 'row';
}

export const fullPrecision: PrecisionConfig = { weights: 'fp32', activations: 'fp32', kv: 'fp32' };

/** BitNet-style layers as precision presets: ternary (b1.58) or binary (b1) weights with int8 per-token inputs. */
export const bitnetPresets: Record<string, PrecisionConfig> = {
  'bitnet-b1.58': { weights: 'ternary', activations: 'int8', kv: 'fp32', activationGranularity: 'row' },
  'bitnet-b1': { weights: 'binary', activations: 'int8', kv: 'fp32', activationGranularity: 'row' },
};

export const precisionNames = ['fp32', ...formatNames];

function granularity(name: string): Granularity {
  if (name === 'tensor' || name === 'row') return { kind: name };
  const group = /^group(\d+)$/.exec(name);
  if (group) return { kind: 'group', size: Number(group[1]) };
  throw new Error(`granularity must be tensor, row or groupN, got '${name}'`);
}

/** The fake-quantization spec of one component, or null for full precision. */
function specFor(format: string, gran: string): FakeQuantSpec | null {
  if (format === 'fp32') return null;
  const spec = quantSpec(format);
  // Formats with their own block structure (MX, NF4) and scale-free casts keep their defaults.
  if (spec.granularity.kind !== 'tensor' || spec.scale.kind === 'none') return spec;
  return quantSpec(format, { granularity: granularity(gran) });
}

export interface PrecisionSpecs {
  weights: FakeQuantSpec | null;
  activations: FakeQuantSpec | null;
  kv: FakeQuantSpec | null;
}

export function resolvePrecision(p: PrecisionConfig): PrecisionSpecs {
  return {
    weights: specFor(p.weights, p.weightGranularity ?? 'row'),
    activations: specFor(p.activations, p.activationGranularity ?? 'tensor'),
    kv: specFor(p.kv, 'row'),
  };
}

/** Bits per value of a precision name, for laws and cost models (fp32 counts 32; int4 4; fp8 8; nf4 4). */
export function bitsOf(name: string): number {
  if (name === 'fp32') return 32;
  if (name === 'bf16' || name === 'fp16') return 16;
  if (name === 'ternary') return Math.log2(3);
  if (name === 'binary') return 1;
  if (name === 'nf4' || name === 'mxfp4') return 4;
  const m = /(\d+)/.exec(name);
  if (!m) throw new Error(`unknown precision '${name}'`);
  return Number(m[1]);
}
