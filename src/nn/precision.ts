// Precision per component of a language model, as in Kumar et al.: weights P_w, activations P_a (the inputs
// of every linear layer) and the KV cache P_kv (keys and values as attention uses them). Each is a precision
// name of numerics (fp32: no quantization), applied as straight-through fake quantization in training.
import { NumericsError } from '../numerics/errors.ts';
import { FULL_PRECISION, precisionNames } from '../numerics/precision.ts';
import { type FakeQuantSpec, type Granularity, quantSpec } from '../numerics/spec.ts';
import { type ConfigIssue, Fields } from './fields.ts';

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
export const bitnetPresets: Readonly<Record<string, PrecisionConfig>> = {
  'bitnet-b1.58': { weights: 'ternary', activations: 'int8', kv: 'fp32', activationGranularity: 'row' },
  'bitnet-b1': { weights: 'binary', activations: 'int8', kv: 'fp32', activationGranularity: 'row' },
};

function granularity(name: string): Granularity {
  if (name === 'tensor' || name === 'row') return { kind: name };
  const group = /^group([1-9]\d*)$/.exec(name);
  if (group) return { kind: 'group', size: Number(group[1]) };
  throw new NumericsError('granularity', name, 'tensor, row or groupN (N a positive integer)');
}

/** The fake-quantization spec of one component, or null for full precision. */
function specFor(format: string, gran: string): FakeQuantSpec | null {
  if (format === FULL_PRECISION) return null;
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

/** The widths each component's rows have in a model: what a group of shared scales must divide. */
export interface ModelWidths {
  dModel: number;
  dFf: number;
  headSize: number;
}

const parts = ['weights', 'activations', 'kv'] as const;
const precisionKeys = [...parts, 'weightGranularity', 'activationGranularity'];

/**
 * Checks a precision section (defaults: fp32 everywhere) and, when the widths are known, that each format's
 * groups divide the rows it quantizes (weights and linear inputs: d_model and d_ff; KV: the head size).
 * Issues are added to `issues`, named as the user wrote them; returns the config, or null if any is wrong.
 */
export function checkPrecisionConfig(
  raw: unknown,
  prefix: string,
  issues: ConfigIssue[],
  widths?: ModelWidths,
  defaults: PrecisionConfig = fullPrecision,
): PrecisionConfig | null {
  const before = issues.length;
  const f = new Fields(raw, prefix, precisionKeys, issues);
  const config: PrecisionConfig = { ...defaults };
  for (const part of parts) config[part] = f.string(part, defaults[part], precisionNames) ?? FULL_PRECISION;
  const wg = f.string('weightGranularity', defaults.weightGranularity ?? 'row');
  const ag = f.string('activationGranularity', defaults.activationGranularity ?? 'tensor', ['tensor', 'row']);
  if (wg !== undefined && !/^(tensor|row|group[1-9]\d*)$/.test(wg))
    f.problem(
      'weightGranularity',
      `${JSON.stringify(wg)} is not tensor, row or groupN (N a positive integer)`,
    );
  if (issues.length > before) return null;
  config.weightGranularity = wg as PrecisionConfig['weightGranularity'];
  config.activationGranularity = ag as PrecisionConfig['activationGranularity'];
  const specs = resolvePrecision(config);
  if (widths) {
    const rows = {
      weights: [widths.dModel, widths.dFf],
      activations: [widths.dModel, widths.dFf],
      kv: [widths.headSize],
    };
    const names = { weights: ['d_model', 'd_ff'], activations: ['d_model', 'd_ff'], kv: ['head size'] };
    for (const part of parts) {
      const g = specs[part]?.granularity;
      if (g?.kind !== 'group') continue;
      rows[part].forEach((width, i) => {
        if (width % g.size !== 0)
          f.problem(
            part,
            `${config[part]} shares scales in groups of ${g.size}, which does not divide ${names[part][i]} = ${width}`,
          );
      });
    }
  }
  return issues.length > before ? null : config;
}
