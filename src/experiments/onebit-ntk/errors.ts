// Errors of the 1-bit NTK experiment. Config errors name the field, the value and what is allowed.

export class OnebitNtkError extends Error {
  override name = 'OnebitNtkError';
}

export class OnebitNtkConfigError extends OnebitNtkError {
  override name = 'OnebitNtkConfigError';
  constructor(
    readonly field: string,
    readonly value: unknown,
    readonly allowed: string,
  ) {
    super(`${field} = ${JSON.stringify(value)} is not allowed; expected ${allowed}`);
  }
}
