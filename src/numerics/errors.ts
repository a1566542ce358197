// Typed errors of the numerics area: each names the argument, the value it got and what is allowed.

export class NumericsError extends Error {
  override name = 'NumericsError';
  constructor(
    readonly argument: string,
    readonly value: unknown,
    readonly allowed: string,
  ) {
    super(`${argument} = ${show(value)} is not allowed; expected ${allowed}`);
  }
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) {
    return String(value);
  }
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/** Throws unless every element of x is finite; names the argument and the first bad index. */
export function assertFinite(argument: string, x: ArrayLike<number>, n = x.length): void {
  for (let i = 0; i < n; i++) {
    const v = x[i];
    if (!Number.isFinite(v))
      throw new NumericsError(`${argument}[${i}]`, v, 'a finite number (no NaN or Inf)');
  }
}
