// Errors of the cpu backend name the kernel and the argument, as the native side reports them.
export class CpuBackendError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CpuBackendError';
  }
}

/** A native kernel rejected its arguments (wrong typed array, too short, index out of range, ...). */
export class CpuKernelError extends CpuBackendError {
  constructor(
    readonly kernel: string,
    cause: Error,
  ) {
    // The native message already reads "cpu kernel <name>: argument <i> (<name>): ...".
    super(cause.message.startsWith('cpu kernel') ? cause.message : `cpu kernel ${kernel}: ${cause.message}`);
    this.name = 'CpuKernelError';
  }
}
