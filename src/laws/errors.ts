// Typed errors for the laws module. Each names what was wrong (row, column, token, parameter),
// the value, and what is allowed, so a user can fix the input without reading the code.

export class LawsError extends Error {
  override name = 'LawsError';
}

/** Bad data: a missing column, a non-positive or non-finite value, too few points. */
export class LawsInputError extends LawsError {
  override name = 'LawsInputError';
  constructor(
    message: string,
    readonly row?: number,
    readonly column?: string,
  ) {
    super(message);
  }
}

/** A user-written form that does not tokenize, parse or compile. `position` is a 0-based character offset. */
export class ExpressionError extends LawsError {
  override name = 'ExpressionError';
  constructor(
    message: string,
    readonly source: string,
    readonly position: number,
  ) {
    super(`${message} at position ${position}:\n  ${source}\n  ${' '.repeat(position)}^`);
  }
}

/** Bad options to a form, the fitter, or the optimizer. */
export class LawsOptionError extends LawsError {
  override name = 'LawsOptionError';
  constructor(
    readonly option: string,
    readonly value: unknown,
    allowed: string,
  ) {
    super(`${option} = ${JSON.stringify(value)} is not allowed: ${allowed}`);
  }
}

/** A design that cannot separate some parameters of the form (a constant column, two that move together). */
export class LawsDesignError extends LawsInputError {
  override name = 'LawsDesignError';
  constructor(
    message: string,
    readonly variables: readonly string[],
    readonly params: readonly string[],
  ) {
    super(message, undefined, variables[0]);
  }
}

/** The fit cannot answer the question asked (e.g. weights-only runs asked for the all-parts optimum). */
export class LawsUndecidedError extends LawsError {
  override name = 'LawsUndecidedError';
}
