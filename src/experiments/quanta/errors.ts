// Typed errors for the quanta experiment: each names the field, the value, and what is allowed.

export class QuantaError extends Error {
  override name = 'QuantaError';
}

/** A bad setting: `field` is its path in the config (e.g. 'task.k', 'sweep.widths[2]'). */
export class QuantaConfigError extends QuantaError {
  override name = 'QuantaConfigError';
  constructor(
    readonly field: string,
    readonly value: unknown,
    allowed: string,
  ) {
    super(`${field} = ${JSON.stringify(value)} is not allowed: ${allowed}`);
  }
}

/** Checks that `value` is an integer in [min, max]; returns it. */
export function integerIn(field: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new QuantaConfigError(field, value, `an integer ${range}`);
  }
  return value;
}

/** Checks that `value` is a finite number > min (or >= min when inclusive); returns it. */
export function numberAbove(field: string, value: unknown, min: number, inclusive = false): number {
  const ok = typeof value === 'number' && Number.isFinite(value) && (inclusive ? value >= min : value > min);
  if (!ok) throw new QuantaConfigError(field, value, `a finite number ${inclusive ? '>=' : '>'} ${min}`);
  return value as number;
}
