// Errors raised by the data layer. Each one says which file, field or value was wrong and what is allowed,
// so a user can fix their corpus or config without reading our code.

/** Base class for every error the data layer throws on bad input. */
export class DataError extends Error {
  override name = 'DataError';
}

/** A corpus (text file, folder, or token binary) that cannot be used; `path` names the offending file. */
export class CorpusError extends DataError {
  override name = 'CorpusError';
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`corpus ${path}: ${problem}`);
  }
}

/** A tokenizer file or tokenizer setting that cannot be used. */
export class TokenizerError extends DataError {
  override name = 'TokenizerError';
}

/** A bad argument to a data function: names the argument, its value and what is allowed. */
export class DataArgumentError extends DataError {
  override name = 'DataArgumentError';
  constructor(argument: string, value: unknown, allowed: string) {
    super(`${argument} = ${JSON.stringify(value)} is not allowed: ${allowed}`);
  }
}
