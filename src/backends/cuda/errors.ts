// Errors of the cuda backend. The native side already names the kernel, the argument or the op with its shapes,
// and the CUDA or cuBLAS error; these classes let callers tell them apart.
export class CudaBackendError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CudaBackendError';
  }
}

/** A kernel rejected its arguments, or a CUDA/cuBLAS call failed (the message names the op and shapes). */
export class CudaKernelError extends CudaBackendError {
  constructor(
    readonly kernel: string,
    cause: Error,
  ) {
    super(
      cause.message.startsWith('cuda kernel') ? cause.message : `cuda kernel ${kernel}: ${cause.message}`,
    );
    this.name = 'CudaKernelError';
  }
}
