// OneBit's errors name the field, the value and what is allowed.
export class OneBitError extends Error {
  constructor(
    readonly field: string,
    readonly value: unknown,
    readonly allowed: string,
  ) {
    super(`${field}: ${String(value)} (expected ${allowed})`);
    this.name = 'OneBitError';
  }
}
