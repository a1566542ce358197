// The narrow interface every backend implements: an allocator plus a few dozen kernels.
// The frontend (src/tensor) owns shapes, autodiff and broadcasting rules; a backend only moves numbers.
//
// Conventions for every kernel:
// - Storages are opaque handles made by the same backend's alloc(). Sizes are in elements.
// - Buffers are dense and row-major unless strides are passed explicitly.
// - `out` may alias an input only where a kernel says so.
// - Floating-point kernels read and write 'f32' storages; index arguments are 'i32' storages.
// - Kernels are synchronous from the caller's view (a GPU backend may queue work; read() synchronizes).

import type { FakeQuantSpec } from '../numerics/spec.ts';

/** Element types a storage can hold. f32 is the compute type; bf16/f16 are storage formats only. */
export type DType = 'f32' | 'i32' | 'bf16' | 'f16';

/**
 * A hint on an op whose rounded outputs are read only by products and attention, which round their operands to
 * the half type themselves: a backend whose products read 16-bit copies (cuda in bf16 / fp16 matmul mode) may
 * keep such an output as its 16-bit copy alone, when it is rounded to the copy's type, writing the f32 values
 * only if something else reads them. The values are the same either way; backends without copies ignore it.
 */
export type HalfOnly = boolean;

export type HostArray = Float32Array | Float64Array | Int32Array | Uint16Array;

export const unaryOps = [
  'neg',
  'exp',
  'log',
  'sqrt',
  'rsqrt',
  'abs',
  'sign',
  'round', // half to even
  'floor',
  'relu',
  'gelu', // tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  'silu',
  'sigmoid',
  'tanh',
  'square',
  'reciprocal',
] as const;
export type UnaryOp = (typeof unaryOps)[number];

export const binaryOps = [
  'add',
  'sub',
  'mul',
  'div',
  'pow',
  'max',
  'min',
  'lt', // comparisons produce 1 or 0
  'le',
  'gt',
  'ge',
  'eq',
  'ne',
] as const;
export type BinaryOp = (typeof binaryOps)[number];

export type ReduceOp = 'sum' | 'max';

export interface MatmulArgs {
  /** Number of independent products; operands advance by their batch stride (0 broadcasts one matrix). */
  batch: number;
  m: number;
  n: number;
  k: number;
  /** A is stored (m, k), or (k, m) when transA. B is stored (k, n), or (n, k) when transB. C is (m, n). */
  transA: boolean;
  transB: boolean;
  aBatchStride: number;
  bBatchStride: number;
  /** C = alpha * op(A) op(B) + (accumulate ? C : 0). */
  alpha: number;
  accumulate: boolean;
  /** C rounded to this half type as it is stored (bit for bit roundTo after the product). */
  roundOutput?: 'bf16' | 'f16';
  /** C (rounded) is read only by products and attention, or by kernels that round it on load: see HalfOnly.
   *  (cuda then writes the 16-bit output itself, with an algorithm of its own, whose sums may run in another
   *  order than the f32 product's.) */
  halfOnly?: HalfOnly;
}

/** The args of one plain product C (m, n) = op(A) op(B): no batch, alpha 1, C overwritten; `more` overrides. */
export const matmulArgs = (m: number, n: number, k: number, more: Partial<MatmulArgs> = {}): MatmulArgs => ({
  batch: 1,
  m,
  n,
  k,
  transA: false,
  transB: false,
  aBatchStride: 0,
  bBatchStride: 0,
  alpha: 1,
  accumulate: false,
  ...more,
});

/** The FP8 element formats of a product's operands (OCP E4M3: forward; E5M2: gradients). */
export type Fp8Format = 'fp8_e4m3' | 'fp8_e5m2';

export interface Fp8MatmulArgs {
  m: number;
  n: number;
  k: number;
  /** A is stored (m, k), or (k, m) when transA. B is stored (k, n), or (n, k) when transB. */
  transA: boolean;
  transB: boolean;
  aFormat: Fp8Format;
  bFormat: Fp8Format;
  /** Quantize A's (B's) values rounded to this half type first: Q(roundTo(A)). Lets a backend read the operand's
   *  16-bit copy (the half compute's activations), which may be all it holds (HalfOnly). */
  roundA?: 'bf16' | 'f16';
  roundB?: 'bf16' | 'f16';
  /** out += the product, in place of out = the product. */
  accumulate?: boolean;
  /** The product rounded to this half type as it is stored (as MatmulArgs.roundOutput). */
  roundOutput?: 'bf16' | 'f16';
  /** See HalfOnly. */
  halfOnly?: HalfOnly;
}

export interface AdamWArgs {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step count, for bias correction. */
  step: number;
  /** Multiplies the gradient before use (global-norm clipping, loss scaling). */
  gradScale: number;
}

export type RandomDistribution = 'uniform' | 'normal';

export interface Backend<S = unknown> {
  readonly name: string;

  // ---- memory ----------------------------------------------------------------------------------
  /** A new storage of `size` elements, zero-filled. */
  alloc(dtype: DType, size: number): S;
  /** Returns the storage to the allocator. Using it afterwards is a bug. */
  free(storage: S): void;
  /** Host -> storage: copies data[0..n) to storage[offset..offset+n). Values are converted to the dtype. */
  write(storage: S, dtype: DType, data: ArrayLike<number>, offset?: number): void;
  /** Storage -> host: a fresh copy of storage[0..size). f32 and the half types come back as Float32Array
   *  (Float64Array on a float64 reference backend), i32 as Int32Array. */
  read(storage: S, dtype: DType, size: number): Float32Array | Float64Array | Int32Array;

  // ---- data movement ---------------------------------------------------------------------------
  fill(out: S, n: number, value: number): void;
  /** For every index i over `shape`: out[outOffset + Σ i_d outStrides_d] = x[xOffset + Σ i_d xStrides_d].
   *  Transpose, slice, broadcast, concat and their gradients are all this kernel. dtype f32 or i32. */
  strided(
    x: S,
    xOffset: number,
    xStrides: readonly number[],
    out: S,
    outOffset: number,
    outStrides: readonly number[],
    shape: readonly number[],
  ): void;
  /** Converts n elements between dtypes. f32 -> bf16/f16 rounds to nearest even; f32 -> i32 truncates. */
  cast(x: S, from: DType, out: S, to: DType, n: number): void;

  // ---- elementwise -----------------------------------------------------------------------------
  /** out[i] = f(x[i]). out may alias x. */
  unary(op: UnaryOp, x: S, out: S, n: number): void;
  /** gx[i] = gy[i] * f'(x[i]) (sign, round and floor have derivative 0). */
  unaryGrad(op: UnaryOp, x: S, gy: S, gx: S, n: number): void;
  /** out (dense, `shape`) = a op b, each operand read through its strides (0 where it broadcasts).
   *  out may alias an operand whose strides are dense. */
  binary(
    op: BinaryOp,
    a: S,
    aStrides: readonly number[],
    b: S,
    bStrides: readonly number[],
    out: S,
    shape: readonly number[],
  ): void;
  /** out = cond != 0 ? a : b, with broadcasting strides as in binary. */
  where(
    cond: S,
    condStrides: readonly number[],
    a: S,
    aStrides: readonly number[],
    b: S,
    bStrides: readonly number[],
    out: S,
    shape: readonly number[],
  ): void;
  /** out[i] = mul * x[i] + add. out may alias x. */
  affine(x: S, out: S, n: number, mul: number, add: number): void;
  /** SwiGLU's gate: out[i] = silu(gate[i]) * up[i], one pass (the transformer's MLP). With `round`, gate and up
   *  are rounded to it on load (as roundTo rounds them), bit for bit the op on rounded inputs; with
   *  `roundOutput`, out is rounded to it as it is stored (bit for bit roundTo after the op). `halfOnly`: see
   *  HalfOnly. */
  swiglu(
    gate: S,
    up: S,
    out: S,
    n: number,
    round?: 'bf16' | 'f16',
    roundOutput?: 'bf16' | 'f16',
    halfOnly?: HalfOnly,
  ): void;
  /** Both gradients of swiglu in one pass: gGate[i] = gy[i] up[i] silu'(gate[i]), gUp[i] = gy[i] silu(gate[i]);
   *  with `round`, at gate and up rounded on load; with `roundGy`, gy is rounded to it on load (bit for bit
   *  roundTo of gy first); with `roundGrads`, both gradients are rounded to it as they are stored. */
  swigluGrad(
    gate: S,
    up: S,
    gy: S,
    gGate: S,
    gUp: S,
    n: number,
    round?: 'bf16' | 'f16',
    roundGy?: 'bf16' | 'f16',
    roundGrads?: 'bf16' | 'f16',
    halfOnly?: HalfOnly,
  ): void;
  /** out[i] = x[i] rounded to `to` (nearest even, f16 overflow to ±inf) and back to f32: cast(cast(x, to), 'f32')
   *  bit for bit, in one pass over f32 storages. */
  roundTo(x: S, out: S, to: 'bf16' | 'f16', n: number): void;

  // ---- reductions ------------------------------------------------------------------------------
  /** x viewed as (outer, mid, inner): out[o, i] = reduce over m of x[o, m, i]. out is (outer, inner). */
  reduce(op: ReduceOp, x: S, out: S, outer: number, mid: number, inner: number): void;
  /** Σ x[i]^2 over n elements, returned to the host (a synchronization point). */
  sumSquares(x: S, n: number): number;
  /** Σ over k of Σ xs[k][i]^2 (i < ns[k]), returned to the host with one synchronization, combined in a fixed
   *  order (deterministic). Optional: where absent, callers sum sumSquares per tensor. */
  sumSquaresMany?(xs: S[], ns: number[]): number;
  /** Statistics of x viewed as (rows, cols), written to out (4 + cols): [max |x|, mean, second and fourth
   *  central moments over all elements, then per column c the fraction of rows with |x[r, c]| >= threshold
   *  (compared in f32)]. Moments accumulate in double; rows * cols == 0 gives zeros. A NaN in x is passed over by
   *  max |x| and the hits, and makes the mean and moments NaN. No synchronization. */
  columnStats(x: S, out: S, rows: number, cols: number, threshold: number): void;

  // ---- linear algebra --------------------------------------------------------------------------
  matmul(a: S, b: S, out: S, args: MatmulArgs): void;
  /** out (m, n) = Q_a(op(A)) @ Q_b(op(B)) in fp32, Q_f = fakeQuant to FP8 format f with one absmax scale per
   *  tensor (nearest): on FP8 tensor cores. Optional: where absent (or fp8Problem() names a reason), the
   *  frontend emulates it with fakeQuant and matmul (src/tensor/ops/fp8.ts), the same numbers. */
  matmulFp8?(a: S, b: S, out: S, args: Fp8MatmulArgs): void;
  /** Null where matmulFp8 runs natively, else why not (e.g. the GPU's compute capability). */
  fp8Problem?(): string | null;

  // ---- indexing --------------------------------------------------------------------------------
  /** out[i, :] = table[idx[i], :] for i < nIdx; rows of rowSize. idx is i32; out of range throws. */
  gather(table: S, idx: S, out: S, nIdx: number, rowSize: number): void;
  /** out[idx[i], :] += src[i, :] (out is accumulated into, not cleared). */
  scatterAdd(src: S, idx: S, out: S, nIdx: number, rowSize: number): void;

  // ---- fused neural-network kernels (rows x cols, normalized over cols) --------------------------
  softmax(x: S, out: S, rows: number, cols: number): void;
  /** gx = y * (gy - Σ_c gy y), with y the softmax output. */
  softmaxGrad(y: S, gy: S, gx: S, rows: number, cols: number): void;
  logSoftmax(x: S, out: S, rows: number, cols: number): void;
  /** gx = gy - exp(y) Σ_c gy, with y the log-softmax output. */
  logSoftmaxGrad(y: S, gy: S, gx: S, rows: number, cols: number): void;
  /** loss[r] = logsumexp(logits[r, :]) - logits[r, target[r]]; lse[r] saved for the gradient.
   *  Rows whose target is < 0 are ignored: loss 0. With `roundLogits`, the logits are read rounded to it (bit for
   *  bit roundTo of the logits first; the fused LM head's half compute). */
  crossEntropy(
    logits: S,
    targets: S,
    loss: S,
    lse: S,
    rows: number,
    cols: number,
    roundLogits?: 'bf16' | 'f16',
  ): void;
  /** gLogits[r, c] = gLoss[r] * (softmax(logits)[r, c] - [c == target[r]]); 0 for ignored rows. gLogits may be
   *  the logits (written over in place). `roundLogits` as crossEntropy's; `roundGrads` rounds gLogits as it is
   *  stored; `halfOnly`: see HalfOnly. */
  crossEntropyGrad(
    logits: S,
    targets: S,
    lse: S,
    gLoss: S,
    gLogits: S,
    rows: number,
    cols: number,
    roundLogits?: 'bf16' | 'f16',
    roundGrads?: 'bf16' | 'f16',
    halfOnly?: HalfOnly,
  ): void;
  // ---- KL(teacher ‖ student) on logits, for distillation (fused like crossEntropy) --------------
  /** loss[r] = Σ_c p_t (log p_t − log p_s), p = softmax of the teacher / student row (max-subtracted);
   *  the rows' log-sum-exps lseS[r], lseT[r] saved for the gradient. */
  klDivLogits(student: S, teacher: S, loss: S, lseS: S, lseT: S, rows: number, cols: number): void;
  /** gStudent[r, c] = gLoss[r] * (softmax(student)[r, c] − softmax(teacher)[r, c]); the teacher gets none. */
  klDivLogitsGrad(
    student: S,
    teacher: S,
    lseS: S,
    lseT: S,
    gLoss: S,
    gStudent: S,
    rows: number,
    cols: number,
  ): void;
  // ---- end KL on logits ----------------------------------------------------------------------------
  /** out = x * rstd * w, rstd[r] = 1 / sqrt(mean_c x^2 + eps). */
  rmsNorm(x: S, w: S, out: S, rstd: S, rows: number, cols: number, eps: number): void;
  /** A residual add and the RMSNorm after it in one pass: sum = x + r, then rmsNorm(sum, w, out, rstd) exactly
   *  as rmsNorm computes it (the gradients are add's and rmsNormGrad on sum). With `roundDelta`, r is rounded
   *  to it on load (as roundTo rounds it); with `roundOutput`, out (not sum) is rounded to it as it is stored. */
  addRmsNorm(
    x: S,
    r: S,
    w: S,
    sum: S,
    out: S,
    rstd: S,
    rows: number,
    cols: number,
    eps: number,
    roundDelta?: 'bf16' | 'f16',
    roundOutput?: 'bf16' | 'f16',
    halfOnly?: HalfOnly,
  ): void;
  /** gx overwritten, or added to with `accumulate` (a gradient gathered from x's other uses); gw accumulated
   *  into (gw += Σ_r gy x rstd). With `roundGy`, gy is rounded to it on load (bit for bit roundTo of gy first). */
  rmsNormGrad(
    x: S,
    w: S,
    rstd: S,
    gy: S,
    gx: S,
    gw: S,
    rows: number,
    cols: number,
    accumulate: boolean,
    roundGy?: 'bf16' | 'f16',
  ): void;
  /** out = (x - mean) * rstd * w + b; w and b may be null (no affine). mean, rstd saved per row. */
  layerNorm(
    x: S,
    w: S | null,
    b: S | null,
    out: S,
    mean: S,
    rstd: S,
    rows: number,
    cols: number,
    eps: number,
  ): void;
  /** gx overwritten; gw and gb accumulated into when not null. */
  layerNormGrad(
    x: S,
    w: S | null,
    mean: S,
    rstd: S,
    gy: S,
    gx: S,
    gw: S | null,
    gb: S | null,
    rows: number,
    cols: number,
  ): void;
  /** Rotary embedding on x of shape (B, T, nh, hs), rotating pairs (j, j + hs/2) of each head by angle
   *  (posOffset + t) * base^(-2j/hs). direction -1 rotates backwards (the gradient). out may alias x. With
   *  `roundInput`, x is rounded to it on load (as roundTo rounds it); with `roundOutput`, out is rounded to it as
   *  it is stored. */
  rope(
    x: S,
    out: S,
    B: number,
    T: number,
    nh: number,
    hs: number,
    base: number,
    posOffset: number,
    direction: 1 | -1,
    roundInput?: 'bf16' | 'f16',
    roundOutput?: 'bf16' | 'f16',
    halfOnly?: HalfOnly,
  ): void;
  /** Causal (or full) softmax attention. q, k, v, out: (B, T, nh, hs). lse: (B, nh, T), saved for backward.
   *  out[b, t, h] = Σ_s softmax_s(scale q_t·k_s, s <= t if causal) v_s. */
  attention(
    q: S,
    k: S,
    v: S,
    out: S,
    lse: S,
    B: number,
    T: number,
    nh: number,
    hs: number,
    scale: number,
    causal: boolean,
  ): void;
  /** Gradients of attention; gq, gk, gv are overwritten. */
  attentionGrad(
    q: S,
    k: S,
    v: S,
    out: S,
    lse: S,
    gOut: S,
    gq: S,
    gk: S,
    gv: S,
    B: number,
    T: number,
    nh: number,
    hs: number,
    scale: number,
    causal: boolean,
  ): void;

  // ---- randomness (Philox4x32-10, see src/tensor/philox.ts for the exact stream) ----------------
  /** out[i] = the i-th number of the stream (seed, counter offset `offset` + i). */
  random(out: S, n: number, dist: RandomDistribution, seed: number, offset: number): void;
  /** out = x * mask / (1 - p), mask[i] = uniform(seed, offset + i) >= p. out may alias x. */
  dropout(x: S, out: S, n: number, p: number, seed: number, offset: number): void;

  // ---- optimizer -------------------------------------------------------------------------------
  /** In-place fused AdamW on n parameters (decoupled weight decay, bias-corrected moments). */
  adamw(param: S, grad: S, m: S, v: S, n: number, args: AdamWArgs): void;
  /** adamw on many tensors at once (one launch on a GPU), the same args for all. Optional: where absent,
   *  callers run adamw per tensor. */
  adamwMulti?(params: S[], grads: S[], ms: S[], vs: S[], sizes: number[], args: AdamWArgs): void;

  // ---- packed 1-bit / ternary weights (OneBit, BitNet b1.58: inference only) ---------------------
  /** y (batch, rows) = h ⊙ ((x ⊙ g) Sᵀ) for x (batch, cols), g (cols), h (rows), S (rows, cols) packed as
   *  src/onebit/packed.ts lays it out (each row padded to whole bytes, codes least significant bit first;
   *  sign1: bit 1 = +1, 0 = -1; ternary: 2 bits, 0 -> 0, 1 -> +1, 2 -> -1, 3 -> 0), its bytes four to an element
   *  of the i32 storage `codes` (little-endian, zero past the end). Sums in at least fp32. */
  packedGemm(
    codes: S,
    g: S,
    h: S,
    x: S,
    y: S,
    rows: number,
    cols: number,
    batch: number,
    ternary: boolean,
  ): void;

  // ---- quantization ----------------------------------------------------------------------------
  /** Quantize-then-dequantize x (rows, cols) per spec into out. When steMask is given, it receives 1 where
   *  x lies inside the representable (clipping) range and 0 outside, for the clipped straight-through
   *  gradient. out may alias x. With `roundOutput`, out is rounded to it as it is stored; `halfOnly`: see
   *  HalfOnly. */
  fakeQuant(
    spec: FakeQuantSpec,
    x: S,
    out: S,
    rows: number,
    cols: number,
    steMask: S | null,
    roundOutput?: 'bf16' | 'f16',
    halfOnly?: HalfOnly,
  ): void;
}
