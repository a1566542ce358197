// Typed errors of the run store.
import { SweepError } from '../sweep/errors.ts';

export class StoreError extends SweepError {
  override name = 'StoreError';
}

/** A worker tried to record a result for a run it no longer holds (its claim went stale and was taken). */
export class ClaimLostError extends StoreError {
  override name = 'ClaimLostError';
}
