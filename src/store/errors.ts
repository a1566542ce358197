// Typed errors of the run store. The store sits below the sweep machinery, so its errors stand alone.

export class StoreError extends Error {
  override name = 'StoreError';
}

/** A worker tried to record a result for a run it no longer holds (its claim went stale and was taken). */
export class ClaimLostError extends StoreError {
  override name = 'ClaimLostError';
}
