// What a PTQ job may be asked for, checked before any work: the format (any precision name but fp32), the
// method (GPTQ solves for integer codes, so int2..int8 only), the group size (it must divide the rows of
// every linear weight: d_model and d_ff) and the shared settings. The CLI, sweep specs and evaluatePtq all
// check through here, so a combination that would fail inside a job fails at spec load instead.
import { ConfigError, type ConfigIssue, Fields, show } from '../nn/fields.ts';
import { FULL_PRECISION, precisionNames } from '../numerics/precision.ts';
import { quantSpec } from '../numerics/spec.ts';

/** A PTQ request that cannot run; `issues` lists every problem by field (spec path or CLI flag). */
export class PtqError extends ConfigError {
  override name = 'PtqError';
}

export const ptqMethods = ['rtn', 'gptq'] as const;
export type PtqMethod = (typeof ptqMethods)[number];

/** Formats PTQ quantizes to: every precision name except fp32 (nothing to quantize). */
export const ptqFormats: readonly string[] = precisionNames.filter((n) => n !== FULL_PRECISION);
/** GPTQ's error feedback solves for integer codes on a symmetric grid of 2..8 bits. */
export const gptqFormats: readonly string[] = ptqFormats.filter((n) => /^int[2-8]$/.test(n));

/** Settings shared by every PTQ job of a sweep. */
export interface PtqSettings {
  /** Columns sharing a scale; 0 = one scale per output channel. Formats with their own blocks (MX, NF4) keep them. */
  groupSize: number;
  /** GPTQ: calibration tokens from the training split. */
  calibrationTokens: number;
  /** Validation tokens (default: the run's own evalTokens). */
  evalTokens?: number;
  /** LLM.int8 decomposition: |x| at or above this on calibration data marks an outlier input dimension
   *  (default defaultOutlierThreshold). */
  outlierThreshold?: number;
}

export const defaultPtqSettings: PtqSettings = { groupSize: 0, calibrationTokens: 8192 };
/** LLM.int8's threshold. */
export const defaultOutlierThreshold = 6;

/** Checks a settings mapping (camelCase or snake_case keys); adds problems to `issues`; null if any. */
export function checkPtqSettings(raw: unknown, prefix: string, issues: ConfigIssue[]): PtqSettings | null {
  const before = issues.length;
  const keys = ['groupSize', 'calibrationTokens', 'evalTokens', 'outlierThreshold'];
  const f = new Fields(raw, prefix, keys, issues);
  const settings: PtqSettings = {
    groupSize: f.number('groupSize', defaultPtqSettings.groupSize, 0, 2 ** 31, true) ?? 0,
    calibrationTokens:
      f.number('calibrationTokens', defaultPtqSettings.calibrationTokens, 1, 2 ** 40, true) ?? 1,
  };
  if (f.has('outlierThreshold'))
    settings.outlierThreshold = f.number('outlierThreshold', undefined, Number.MIN_VALUE);
  if (f.has('evalTokens')) settings.evalTokens = f.number('evalTokens', undefined, 1, 2 ** 40, true);
  return issues.length > before ? null : settings;
}

/** The settings a job receives (as the spec wrote them) to PtqSettings; a PtqError lists every problem. */
export function parsePtqSettings(raw: unknown, prefix = 'settings.'): PtqSettings {
  const issues: ConfigIssue[] = [];
  const settings = checkPtqSettings(raw, prefix, issues);
  if (!settings) throw new PtqError(issues);
  return settings;
}

export interface PtqVariantFields {
  format: string;
  method: string;
  groupSize: string;
  activations?: string;
  decompose?: string;
}

/** Precisions a linear input may be quantized to after training: every precision name (fp32: not at all). */
export const ptqActivationFormats: readonly string[] = precisionNames;

/**
 * Checks one (format, method, group size) and, when the linear weights' row widths are known, that its scale
 * groups divide them. `fields` names each value in errors (a spec path or a CLI flag).
 */
export function checkPtqVariant(
  variant: {
    format: unknown;
    method: unknown;
    groupSize: number;
    activations?: unknown;
    decompose?: unknown;
  },
  fields: PtqVariantFields,
  issues: ConfigIssue[],
  widths?: { name: string; value: number }[],
): void {
  const { format, method, groupSize, activations = FULL_PRECISION, decompose = false } = variant;
  const activationsField = fields.activations ?? 'activations';
  const decomposeField = fields.decompose ?? 'decompose';
  if (typeof activations !== 'string' || !ptqActivationFormats.includes(activations))
    issues.push({
      field: activationsField,
      message: `${show(activations)} is not a precision (allowed: ${ptqActivationFormats.join(', ')})`,
    });
  if (typeof decompose !== 'boolean')
    issues.push({ field: decomposeField, message: `must be true or false, got ${show(decompose)}` });
  else if (decompose && activations === FULL_PRECISION)
    issues.push({
      field: decomposeField,
      message:
        'the LLM.int8 decomposition keeps outlier dimensions out of activation quantization: it needs quantized activations (activations other than fp32)',
    });
  else if (decompose && method === 'gptq')
    issues.push({
      field: decomposeField,
      message: 'the LLM.int8 decomposition runs with rtn weights, not gptq',
    });
  const formatOk = typeof format === 'string' && ptqFormats.includes(format);
  if (!formatOk)
    issues.push({
      field: fields.format,
      message: `${show(format)} is not a PTQ format (allowed: ${ptqFormats.join(', ')})`,
    });
  if (typeof method !== 'string' || !(ptqMethods as readonly string[]).includes(method)) {
    issues.push({
      field: fields.method,
      message: `${show(method)} is not a PTQ method (allowed: ${ptqMethods.join(', ')})`,
    });
    return;
  }
  if (!formatOk) return;
  if (method === 'gptq' && !gptqFormats.includes(format as string)) {
    issues.push({
      field: fields.method,
      message: `gptq quantizes to integer formats (${gptqFormats.join(', ')}); ${format} needs rtn`,
    });
    return;
  }
  if (!widths) return;
  const group = groupOf(format as string, groupSize);
  for (const w of widths) {
    if (group > 0 && w.value % group !== 0) {
      const own = group !== groupSize;
      issues.push({
        field: own ? fields.format : fields.groupSize,
        message: own
          ? `${format} shares scales in blocks of ${group}, which does not divide ${w.name} = ${w.value}`
          : `${groupSize} does not divide ${w.name} = ${w.value} (needed by ${format})`,
      });
    }
  }
}

/** The group size a format is quantized with: its own blocks (MX, NF4), none for casts, else the setting. */
export function groupOf(format: string, groupSize: number): number {
  const spec = quantSpec(format);
  if (spec.granularity.kind === 'group') return spec.granularity.size;
  if (spec.scale.kind === 'none') return 0;
  return groupSize;
}
