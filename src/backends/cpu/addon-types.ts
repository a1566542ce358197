// The native addon's functions as JavaScript sees them (native/cpu/*.cc): positional arguments, typed arrays
// passed zero-copy. dtype codes: 0 f32, 1 i32, 2 bf16, 3 f16.
export type CpuStorage = Float32Array | Int32Array | Uint16Array;
type F32 = Float32Array;
type Strides = readonly number[];

export interface CpuAddon {
  threads(): number;
  setThreads(n: number): number;

  fill(out: CpuStorage, n: number, value: number): void;
  strided(
    x: CpuStorage,
    xOffset: number,
    xStrides: Strides,
    out: CpuStorage,
    outOffset: number,
    outStrides: Strides,
    shape: Strides,
  ): void;
  cast(x: CpuStorage, from: number, out: CpuStorage, to: number, n: number): void;

  unary(op: string, x: F32, out: F32, n: number): void;
  unaryGrad(op: string, x: F32, gy: F32, gx: F32, n: number): void;
  binary(op: string, a: F32, aStrides: Strides, b: F32, bStrides: Strides, out: F32, shape: Strides): void;
  where(
    c: F32,
    cStrides: Strides,
    a: F32,
    aStrides: Strides,
    b: F32,
    bStrides: Strides,
    out: F32,
    shape: Strides,
  ): void;
  affine(x: F32, out: F32, n: number, mul: number, add: number): void;
  /** round: 0 none, 2 bf16, 3 f16 (gate and up rounded on load) */
  swiglu(gate: F32, up: F32, out: F32, n: number, round: number, roundOutput: number): void;
  swigluGrad(
    gate: F32,
    up: F32,
    gy: F32,
    gGate: F32,
    gUp: F32,
    n: number,
    round: number,
    roundGy: number,
  ): void;
  /** native/cpu/memory.cc; to: 2 bf16, 3 f16 */
  roundTo(x: F32, out: F32, to: number, n: number): void;

  reduce(op: string, x: F32, out: F32, outer: number, mid: number, inner: number): void;
  sumSquares(x: F32, n: number): number;
  /** native/cpu/stats.cc */
  columnStats(x: F32, out: F32, rows: number, cols: number, threshold: number): void;

  matmul(
    a: F32,
    b: F32,
    out: F32,
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
  ): void;
  /** Bench only: C = A B by cblas_sgemm with nothing in between. */
  blasSgemmRaw(a: F32, b: F32, c: F32, m: number, n: number, k: number): void;

  gather(table: F32, idx: Int32Array, out: F32, nIdx: number, rowSize: number): void;
  scatterAdd(src: F32, idx: Int32Array, out: F32, nIdx: number, rowSize: number): void;

  softmax(x: F32, out: F32, rows: number, cols: number): void;
  softmaxGrad(y: F32, gy: F32, gx: F32, rows: number, cols: number): void;
  logSoftmax(x: F32, out: F32, rows: number, cols: number): void;
  logSoftmaxGrad(y: F32, gy: F32, gx: F32, rows: number, cols: number): void;
  crossEntropy(logits: F32, targets: Int32Array, loss: F32, lse: F32, rows: number, cols: number): void;
  crossEntropyGrad(
    logits: F32,
    targets: Int32Array,
    lse: F32,
    gLoss: F32,
    gLogits: F32,
    rows: number,
    cols: number,
  ): void;
  // KL(teacher ‖ student) on logits (distillation)
  klDivLogits(student: F32, teacher: F32, loss: F32, lseS: F32, lseT: F32, rows: number, cols: number): void;
  klDivLogitsGrad(
    student: F32,
    teacher: F32,
    lseS: F32,
    lseT: F32,
    gLoss: F32,
    gStudent: F32,
    rows: number,
    cols: number,
  ): void;
  rmsNorm(x: F32, w: F32, out: F32, rstd: F32, rows: number, cols: number, eps: number): void;
  addRmsNorm(
    x: F32,
    r: F32,
    w: F32,
    sum: F32,
    out: F32,
    rstd: F32,
    rows: number,
    cols: number,
    eps: number,
    /** 0 none, 2 bf16, 3 f16 (r rounded on load) */
    roundDelta: number,
  ): void;
  rmsNormGrad(
    x: F32,
    w: F32,
    rstd: F32,
    gy: F32,
    gx: F32,
    gw: F32,
    rows: number,
    cols: number,
    accumulate: boolean,
    roundGy: number,
  ): void;
  layerNorm(
    x: F32,
    w: F32 | null,
    b: F32 | null,
    out: F32,
    mean: F32,
    rstd: F32,
    rows: number,
    cols: number,
    eps: number,
  ): void;
  layerNormGrad(
    x: F32,
    w: F32 | null,
    mean: F32,
    rstd: F32,
    gy: F32,
    gx: F32,
    gw: F32 | null,
    gb: F32 | null,
    rows: number,
    cols: number,
  ): void;
  rope(
    x: F32,
    out: F32,
    B: number,
    T: number,
    nh: number,
    hs: number,
    base: number,
    posOffset: number,
    direction: number,
    /** 0 none, 2 bf16, 3 f16 (x rounded on load) */
    roundInput: number,
  ): void;
  attention(
    q: F32,
    k: F32,
    v: F32,
    out: F32,
    lse: F32,
    B: number,
    T: number,
    nh: number,
    hs: number,
    scale: number,
    causal: boolean,
  ): void;
  attentionGrad(
    q: F32,
    k: F32,
    v: F32,
    out: F32,
    lse: F32,
    gOut: F32,
    gq: F32,
    gk: F32,
    gv: F32,
    B: number,
    T: number,
    nh: number,
    hs: number,
    scale: number,
    causal: boolean,
  ): void;

  random(out: F32, n: number, dist: string, seed: number, offset: number): void;
  dropout(x: F32, out: F32, n: number, p: number, seed: number, offset: number): void;
  adamw(
    param: F32,
    grad: F32,
    m: F32,
    v: F32,
    n: number,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
    step: number,
    gradScale: number,
  ): void;
  /** From native/cpu/fake_quant.cc (numerics); absent until that file is built. */
  fakeQuant?(spec: Float64Array, x: F32, out: F32, rows: number, cols: number, steMask: F32 | null): void;

  /** From native/cpu/onebit.cc: y (batch, rows) = h ⊙ ((x ⊙ g) Sᵀ), S = ±1 packed sign1 (src/onebit/packed.ts). */
  onebitGemm?(
    codes: Uint8Array,
    g: F32,
    h: F32,
    x: F32,
    y: F32,
    rows: number,
    cols: number,
    batch: number,
  ): void;
  /** The same product for ternary2 codes (2 bits per weight: 0 -> 0, 1 -> +1, 2 -> -1). */
  ternaryGemm?(
    codes: Uint8Array,
    g: F32,
    h: F32,
    x: F32,
    y: F32,
    rows: number,
    cols: number,
    batch: number,
  ): void;
  /** native/cpu/onebit_lut.cc: the packed GEMV by int8 table lookup, codes in 64-row tiles (gemv.ts's tileCodes). */
  packedLutGemm?(
    tiled: Uint8Array,
    g: F32,
    h: F32,
    x: F32,
    y: F32,
    rows: number,
    cols: number,
    batch: number,
    ternary: boolean,
    noAvx512?: boolean,
  ): void;
  /** Bench only (native/cpu/onebit.cc): memcpy of n bytes split across the OpenMP team. */
  copyBytes?(src: Uint8Array, dst: Uint8Array, n: number): void;

  /** From native/cpu/gptq.cc (numerics): the kernels of src/numerics/gptq-kernels.ts, positionally. */
  gptqHessian?(x: F32, tokens: number, cols: number, h: Float64Array): void;
  gptqInverseCholesky?(h: Float64Array, n: number): void;
  gptqQuantizeBlock?(
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
  gptqLazyUpdate?(
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
