// The CUDA addon's functions as JavaScript sees them (native/cuda/*.cu): positional arguments; storages are
// opaque handles to device memory. dtype codes: 0 f32, 1 i32, 2 bf16, 3 f16.
import type { NativeGptqAddon } from '../native-gptq.ts';

/** A device buffer. Opaque: only the addon reads it. */
export interface CudaStorage {
  readonly __cudaStorage: never;
}

type S = CudaStorage;
type Strides = readonly number[];

export interface CudaAddon extends NativeGptqAddon {
  alloc(dtype: number, size: number): S;
  free(storage: S): void;
  write(storage: S, offset: number, data: Float32Array | Int32Array): void;
  read(storage: S, size: number, out: Float32Array | Int32Array): void;
  sync(): void;
  /** [bytes in use, bytes cached, cudaMalloc calls, cache hits, peak bytes in use, limit (0: none)]; addons built
   *  before the limit give the first four. */
  memoryStats(): [number, number, number, number, number?, number?];
  resetPeakMemory(): void;
  /** Caps the bytes the allocator holds (in use + cached); 0 removes the cap. */
  setMemoryLimit(bytes: number): void;
  trimCache(): void;
  /** "name|compute capability|SMs|memory bytes|driver version|runtime version" */
  deviceInfo(): string;
  setMatmulMode(mode: string): string;
  /** "" where FP8 products run (compute capability >= 8.9), else why not. */
  fp8Support(): string;
  matmulFp8(
    a: S,
    b: S,
    out: S,
    m: number,
    n: number,
    k: number,
    transA: boolean,
    transB: boolean,
    aFormat: string,
    bFormat: string,
    /** 0 none, 2 bf16, 3 f16 (Fp8MatmulArgs.roundA, roundB, roundOutput) */
    roundA?: number,
    roundB?: number,
    accumulate?: boolean,
    roundOutput?: number,
    halfOnly?: boolean,
  ): void;
  /** The values an FP8 product reads (codes x scale), (rows, cols) or transposed; format 0 E4M3, 1 E5M2; of x
   *  rounded first to `rounded` (0 none, 2 bf16, 3 f16), read from its 16-bit copy. */
  fp8RoundTrip(
    x: S,
    out: S,
    rows: number,
    cols: number,
    transpose: boolean,
    format: number,
    rounded?: number,
  ): void;
  matmulMode(): string;

  fill(out: S, n: number, value: number): void;
  strided(
    x: S,
    xOffset: number,
    xStrides: Strides,
    out: S,
    outOffset: number,
    outStrides: Strides,
    shape: Strides,
  ): void;
  cast(x: S, from: number, out: S, to: number, n: number): void;

  unary(op: string, x: S, out: S, n: number): void;
  unaryGrad(op: string, x: S, gy: S, gx: S, n: number): void;
  binary(op: string, a: S, aStrides: Strides, b: S, bStrides: Strides, out: S, shape: Strides): void;
  where(
    c: S,
    cStrides: Strides,
    a: S,
    aStrides: Strides,
    b: S,
    bStrides: Strides,
    out: S,
    shape: Strides,
  ): void;
  affine(x: S, out: S, n: number, mul: number, add: number): void;
  /** round: 0 none, 2 bf16, 3 f16 (gate and up rounded on load); halfOnly: Backend's HalfOnly */
  swiglu(gate: S, up: S, out: S, n: number, round: number, roundOutput: number, halfOnly: boolean): void;
  swigluGrad(
    gate: S,
    up: S,
    gy: S,
    gGate: S,
    gUp: S,
    n: number,
    round: number,
    roundGy: number,
    roundGrads: number,
    halfOnly: boolean,
  ): void;
  /** to: 2 bf16, 3 f16 */
  roundTo(x: S, out: S, to: number, n: number): void;

  reduce(op: string, x: S, out: S, outer: number, mid: number, inner: number): void;
  sumSquares(x: S, n: number): number;
  sumSquaresMany(xs: S[], ns: number[]): number;
  /** native/cuda/stats.cu */
  columnStats(x: S, out: S, rows: number, cols: number, threshold: number): void;

  matmul(
    a: S,
    b: S,
    out: S,
    batch: number,
    m: number,
    n: number,
    k: number,
    transA: boolean,
    transB: boolean,
    aBatchStride: number,
    bBatchStride: number,
    alpha: number,
    accumulate: boolean,
    /** 0 / absent none, 2 bf16, 3 f16 (out rounded as it is stored); halfOnly: Backend's HalfOnly */
    roundOutput?: number,
    halfOnly?: boolean,
  ): void;

  /** native/cuda/onebit.cu: y = h ⊙ ((x ⊙ g) Sᵀ), S packed sign1 or ternary2, its bytes in an i32 storage. */
  packedGemm?(
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
  /** Bench only (native/cuda/bench_timer.cu): device-to-device copy of n 4-byte elements. */
  copyDevice?(src: S, dst: S, n: number): void;
  /** Bench only (native/cuda/bench_timer.cu): read n 4-byte elements, one word per block (4 per SM) to dst. */
  readDevice?(src: S, dst: S, n: number): void;
  /** Bench only (native/cuda/bench_timer.cu): hold the GPU for holdMicroseconds, then mark the start. */
  timerStart?(holdMicroseconds: number): void;
  /** Bench only: mark the end, wait for it, and return the milliseconds since timerStart's mark. */
  timerStop?(): number;
  /** Tests only (native/cuda/half_copy.cu): the bits of the first n values of the storage's kept 16-bit copy,
   *  or null when it keeps none. */
  halfCopyOf?(storage: S, n: number): Uint16Array | null;
  /** Tests only: whether the storage's f32 values are still to be written from its 16-bit copy (HalfOnly). */
  f32Pending?(storage: S): boolean;
  /** [outputs kept as their 16-bit copy alone, of those the ones whose f32 values were written later] */
  halfOnlyCounts?(): [number, number];
  /** Profiling (native/cuda/gpu_profile.cu): record a device timestamp on the stream, without waiting. */
  profileMark?(): void;
  /** Profiling: wait for the marks, return the first `count` as ms since the first mark, and start over. */
  profileTimes?(count: number): Float64Array;

  gather(table: S, idx: S, out: S, nIdx: number, rowSize: number): void;
  scatterAdd(src: S, idx: S, out: S, nIdx: number, rowSize: number): void;

  softmax(x: S, out: S, rows: number, cols: number): void;
  softmaxGrad(y: S, gy: S, gx: S, rows: number, cols: number): void;
  logSoftmax(x: S, out: S, rows: number, cols: number): void;
  logSoftmaxGrad(y: S, gy: S, gx: S, rows: number, cols: number): void;
  crossEntropy(logits: S, targets: S, loss: S, lse: S, rows: number, cols: number, roundLogits: number): void;
  crossEntropyGrad(
    logits: S,
    targets: S,
    lse: S,
    gLoss: S,
    gLogits: S,
    rows: number,
    cols: number,
    roundLogits: number,
    roundGrads: number,
    halfOnly: boolean,
  ): void;
  // KL(teacher ‖ student) on logits (distillation)
  klDivLogits(student: S, teacher: S, loss: S, lseS: S, lseT: S, rows: number, cols: number): void;
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
  rmsNorm(x: S, w: S, out: S, rstd: S, rows: number, cols: number, eps: number): void;
  /** roundDelta: 0 none, 2 bf16, 3 f16 (r rounded on load) */
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
    roundDelta: number,
    roundOutput: number,
    halfOnly: boolean,
  ): void;
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
    roundGy: number,
  ): void;
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
  rope(
    x: S,
    out: S,
    B: number,
    T: number,
    nh: number,
    hs: number,
    base: number,
    posOffset: number,
    direction: number,
    /** 0 none, 2 bf16, 3 f16 (x rounded on load; out as it is stored) */
    roundInput: number,
    roundOutput: number,
    halfOnly: boolean,
  ): void;
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

  random(out: S, n: number, dist: string, seed: number, offset: number): void;
  dropout(x: S, out: S, n: number, p: number, seed: number, offset: number): void;
  adamw(
    param: S,
    grad: S,
    m: S,
    v: S,
    n: number,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
    step: number,
    gradScale: number,
  ): void;
  adamwMulti(
    params: S[],
    grads: S[],
    ms: S[],
    vs: S[],
    sizes: number[],
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
    step: number,
    gradScale: number,
  ): void;
  fakeQuant(
    spec: Float64Array,
    x: S,
    out: S,
    rows: number,
    cols: number,
    steMask: S | null,
    roundOutput?: number,
    halfOnly?: boolean,
  ): void;
}
