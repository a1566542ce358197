// Typed errors of the sweep machinery. Each says what was wrong, where, and what is allowed.

/** Base class: every error thrown on purpose by src/sweep (src/store has its own StoreError). */
export class SweepError extends Error {
  override name = 'SweepError';
}

/** One problem found in a sweep spec, at a field path like `sweep.grid.model[2].n_heads`. */
export interface SpecIssue {
  path: string;
  message: string;
}

/** A sweep spec failed validation; `issues` lists every problem, not only the first. */
export class SpecError extends SweepError {
  override name = 'SpecError';
  constructor(readonly issues: SpecIssue[]) {
    super(
      issues.length === 1
        ? `${issues[0].path}: ${issues[0].message}`
        : `invalid sweep spec (${issues.length} problems):\n${issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`,
    );
  }
}

/** A job file that cannot be read or does not describe a job. */
export class JobFileError extends SweepError {
  override name = 'JobFileError';
}

/** No implementation was registered for a job kind. */
export class UnknownJobKindError extends SweepError {
  override name = 'UnknownJobKindError';
}

/** A job's dependency is not done, so the job cannot run yet. */
export class DependencyNotDoneError extends SweepError {
  override name = 'DependencyNotDoneError';
}
