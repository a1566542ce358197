// The heavy parts of GPTQ as swappable kernels. numerics stays free of Node (it runs in a browser), so it
// does not load the native addon itself: the cpu backend registers its kernels here when its addon loads
// (src/backends/cpu/gptq-kernels.ts), and gptq.ts uses whatever is registered, else its TypeScript loops.
// Every array is row-major Float64 except the activations; the shapes are those of gptq.ts.

export interface GptqKernels {
  /** h (cols, cols) = 2/tokens x^T x for x (tokens, cols), both triangles. */
  hessian(x: Float32Array, tokens: number, cols: number, h: Float64Array): void;
  /** In place: h (n, n), symmetric positive definite, becomes the upper-triangular U with U^T U = h^-1. */
  inverseCholeskyUpper(h: Float64Array, n: number): void;
  /**
   * The column loop over columns [i1, i2) of the working weight w (rows, cols): quantized values into q,
   * scaled errors (w - q) / U_cc into the first i2 - i1 columns of err (rows, ldErr), updates inside the
   * block in w. scales/zeros (rows, cols / group) are read when paramsFixed, else chosen at the first
   * column of each group.
   */
  quantizeBlock(
    w: Float64Array,
    q: Float64Array,
    err: Float64Array,
    ldErr: number,
    u: Float64Array,
    scales: Float64Array,
    zeros: Float64Array,
    groupOf: Int32Array,
    rows: number,
    cols: number,
    i1: number,
    i2: number,
    group: number,
    bits: number,
    symmetric: boolean,
    paramsFixed: boolean,
  ): void;
  /** w[:, i2:end] -= err (rows, i2 - i1; leading dimension ldErr) u[i1:i2, i2:end]. */
  lazyUpdate(
    w: Float64Array,
    err: Float64Array,
    ldErr: number,
    u: Float64Array,
    rows: number,
    cols: number,
    i1: number,
    i2: number,
    end: number,
  ): void;
}

let registered: GptqKernels | null = null;

/** Makes `kernels` the default of gptqQuantize and hessianFromActivations (null: the TypeScript loops). */
export function setGptqKernels(kernels: GptqKernels | null): void {
  registered = kernels;
}

/** The registered kernels, or null when none are (then GPTQ runs in TypeScript). */
export function gptqKernels(): GptqKernels | null {
  return registered;
}
