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

/** A teacher run that cannot be distilled from: not a run folder, not finished, or not the student's shape. */
export class TeacherRunError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`teacher run ${path}: ${reason}`);
    this.name = 'TeacherRunError';
  }
}
