// Errors of the engine name the op, the shapes/dtypes involved and the backend, so a user can act on them.
export class EngineError extends Error {
  constructor(op: string, message: string) {
    super(`${op}: ${message}`);
    this.name = 'EngineError';
  }
}

export const fmtShape = (shape: readonly number[]) => `[${shape.join(', ')}]`;
