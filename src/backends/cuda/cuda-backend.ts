// The `cuda` backend: the Backend interface over the CUDA addon (native/cuda). Storages are handles to device
// memory from a caching allocator; free() returns a block to the cache at once. Host <-> device copies happen
// only in write() and read(); every other call queues kernels on one stream, and read() (or sumSquares,
// sumSquaresMany) waits for them. Matmuls run through cuBLASLt in the mode of BITSCALE_CUDA_MATMUL (bf16 by
// default; tf32, fp32). BITSCALE_CUDA_MEMORY_LIMIT caps the device memory the allocator holds (memory-limit.ts).
import { gptqKernels, setGptqKernels } from '../../numerics/gptq-kernels.ts';
import { encodeFakeQuantSpec } from '../../numerics/spec.ts';
import type { AdamWArgs, Backend, DType } from '../backend.ts';
import { nativeGptqKernelsOf } from '../native-gptq.ts';
import type { CudaAddon, CudaStorage } from './addon-types.ts';
import { CudaBackendError, CudaKernelError } from './errors.ts';
import { loadCudaAddon } from './load-addon.ts';
import { MEMORY_LIMIT_ENV, memoryLimitFromEnv } from './memory-limit.ts';
import { type CudaProfile, type CudaProfiler, profilerFromEnv } from './profiler.ts';

export type { CudaStorage } from './addon-types.ts';
export type { CudaProfile } from './profiler.ts';

const DTYPE_CODE: Record<DType, number> = { f32: 0, i32: 1, bf16: 2, f16: 3 };
/** The native round argument of a fused op: 0 (none), else the half type's dtype code. */
const roundCode = (to: 'bf16' | 'f16' | undefined) => (to ? DTYPE_CODE[to] : 0);
/** The HalfOnly hint as the kernels take it; BITSCALE_CUDA_HALF_ONLY=0 ignores it (every output keeps its f32
 *  values; the roundings asked for stay, so a product's rounded output then costs a rounding pass). */
const halfOnlyOn = process.env.BITSCALE_CUDA_HALF_ONLY !== '0';
const halfOnlyFlag = (hint: boolean | undefined) => hint === true && halfOnlyOn;

export type MatmulMode = 'bf16' | 'tf32' | 'fp32' | 'fp16';

export interface CudaMemoryStats {
  inUseBytes: number;
  cachedBytes: number;
  deviceMallocs: number;
  cacheHits: number;
  /** The most bytes in use at once since the backend was created or resetPeakMemory() was called. */
  peakInUseBytes: number;
  /** The cap on in use + cached bytes (BITSCALE_CUDA_MEMORY_LIMIT or setMemoryLimit), or null for none. */
  limitBytes: number | null;
}

export interface CudaDeviceInfo {
  name: string;
  computeCapability: string;
  multiprocessors: number;
  memoryBytes: number;
  driverVersion: number;
  runtimeVersion: number;
}

export interface CudaBackend extends Backend<CudaStorage> {
  /** Waits for queued kernels; raises errors that kernels recorded (an index out of range, ...). */
  synchronize(): void;
  /** Per-kernel times when BITSCALE_CUDA_PROFILE is 1 or gpu (profiler.ts), else null. */
  profile(): CudaProfile | null;
  memoryStats(): CudaMemoryStats;
  /** Restarts the peak from the bytes in use now. */
  resetPeakMemory(): void;
  /** Caps the bytes the allocator holds (in use + cached; trims the cache now if it holds more); null: no cap. */
  setMemoryLimit(bytes: number | null): void;
  /** Returns cached (free) device blocks to the driver. */
  trimCache(): void;
  device(): CudaDeviceInfo;
  matmulMode(): MatmulMode;
  /** Sets the matmul mode; returns the previous one. */
  setMatmulMode(mode: MatmulMode): MatmulMode;
  /** Σ of squares over many tensors with one synchronization (Backend's optional method, always here). */
  sumSquaresMany(xs: CudaStorage[], ns: number[]): number;
  /** AdamW over many tensors in one launch (same arguments for all; Backend's optional method, always here). */
  adamwMulti(
    params: CudaStorage[],
    grads: CudaStorage[],
    ms: CudaStorage[],
    vs: CudaStorage[],
    sizes: number[],
    args: AdamWArgs,
  ): void;
  /** The raw addon, for benchmarks and kernel tests. */
  readonly addon: CudaAddon;
}

/** Products are profiled per shape: "matmul m x n x k, batch, transposes" (FP8: with the formats). */
function profileKey(name: string, args: unknown[]): string {
  if (name === 'matmulFp8') {
    const [m, n, k, ta, tb, fa, fb] = args.slice(3, 10);
    return `matmulFp8 ${m}x${n}x${k} ${ta ? 'T' : 'N'}${tb ? 'T' : 'N'} ${fa}x${fb}`;
  }
  const dims = (v: unknown) => (v as number[]).join('x');
  // Elementwise kernels by what they touched, to tell a step's several uses apart.
  if (name === 'binary') {
    const [op, , aStrides, , bStrides, , shape] = args;
    const same = dims(aStrides) === dims(bStrides) ? '' : ` strides ${dims(aStrides)} / ${dims(bStrides)}`;
    return `binary ${op} ${dims(shape)}${same}`;
  }
  if (name === 'strided') return `strided ${dims(args[6])}`;
  if (name === 'roundTo') return `roundTo ${args[3]}`;
  if (name === 'fakeQuant') return `fakeQuant ${args[3]}x${args[4]}`;
  if (name !== 'matmul') return name;
  const [batch, m, n, k, ta, tb] = args.slice(3, 9);
  return `matmul ${m}x${n}x${k} b${batch} ${ta ? 'T' : 'N'}${tb ? 'T' : 'N'}`;
}

/** Every addon function, rethrowing native errors as CudaKernelError (which names the kernel), and timed by the
 *  profiler where BITSCALE_CUDA_PROFILE asks for one (profiler.ts). */
function guarded(addon: CudaAddon, profiler: CudaProfiler | null): CudaAddon {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(addon)) {
    if (typeof fn !== 'function') continue;
    const call = (...args: unknown[]) => {
      try {
        return fn(...args);
      } catch (e) {
        throw new CudaKernelError(name, e as Error);
      }
    };
    out[name] = profiler
      ? (...args: unknown[]) => profiler.around(profileKey(name, args), () => call(...args))
      : call;
  }
  return out as unknown as CudaAddon;
}

function hostArray(dtype: DType, data: ArrayLike<number>): Float32Array | Int32Array {
  if (dtype === 'i32') return data instanceof Int32Array ? data : Int32Array.from(data);
  return data instanceof Float32Array ? data : Float32Array.from(data);
}

/** The cuda backend; throws CudaBackendError with build instructions when the addon or a GPU is missing. */
export function createCudaBackend(): CudaBackend {
  const loaded = loadCudaAddon();
  if ('error' in loaded) throw new CudaBackendError(loaded.error);
  const profiler = profilerFromEnv(loaded.addon);
  const native = guarded(loaded.addon, profiler);
  let fp8Answer: { problem: string | null } | undefined;
  // GPTQ on a GPU host: the CPU addon's kernels (bit-exact with the reference) where they are registered,
  // else this addon's host kernels (GPU machines often lack OpenBLAS), never the slow TypeScript loops.
  const limit = memoryLimitFromEnv();
  if (limit !== null) {
    if (typeof loaded.addon.setMemoryLimit !== 'function')
      throw new CudaBackendError(
        `${MEMORY_LIMIT_ENV} is set, but this cuda addon was built before memory limits (rebuild: npm run build:cuda)`,
      );
    loaded.addon.setMemoryLimit(limit);
  }
  if (!gptqKernels())
    setGptqKernels(nativeGptqKernelsOf(loaded.addon, (name, e) => new CudaKernelError(name, e)));

  return {
    name: 'cuda',
    addon: loaded.addon,
    synchronize: () => native.sync(),
    profile: () => profiler?.table() ?? null,
    memoryStats() {
      const [inUseBytes, cachedBytes, deviceMallocs, cacheHits, peak, limit] = native.memoryStats();
      // An addon built before peaks and limits reports four numbers.
      return {
        inUseBytes,
        cachedBytes,
        deviceMallocs,
        cacheHits,
        peakInUseBytes: peak ?? Number.NaN,
        limitBytes: limit ? limit : null,
      };
    },
    resetPeakMemory: () => native.resetPeakMemory(),
    setMemoryLimit(bytes) {
      if (bytes !== null && !(Number.isSafeInteger(bytes) && bytes > 0))
        throw new CudaBackendError(
          `setMemoryLimit: bytes = ${bytes}; expected a whole number > 0, or null for no limit`,
        );
      native.setMemoryLimit(bytes ?? 0);
    },
    trimCache: () => native.trimCache(),
    device() {
      const [name, cc, sms, mem, driver, runtime] = native.deviceInfo().split('|');
      return {
        name,
        computeCapability: cc,
        multiprocessors: Number(sms),
        memoryBytes: Number(mem),
        driverVersion: Number(driver),
        runtimeVersion: Number(runtime),
      };
    },
    matmulMode: () => native.matmulMode() as MatmulMode,
    setMatmulMode: (mode) => native.setMatmulMode(mode) as MatmulMode,
    adamwMulti: (params, grads, ms, vs, sizes, a) =>
      native.adamwMulti(
        params,
        grads,
        ms,
        vs,
        sizes,
        a.lr,
        a.beta1,
        a.beta2,
        a.eps,
        a.weightDecay,
        a.step,
        a.gradScale,
      ),

    alloc(dtype, size) {
      if (!(dtype in DTYPE_CODE)) {
        throw new CudaBackendError(`cuda alloc: dtype '${dtype}' is not one of f32, i32, bf16, f16`);
      }
      if (!Number.isInteger(size) || size < 0) {
        throw new CudaBackendError(`cuda alloc: size ${size} is not a whole number >= 0`);
      }
      return native.alloc(DTYPE_CODE[dtype], size);
    },
    free: (storage) => native.free(storage),
    write(storage, dtype, data, offset = 0) {
      native.write(storage, offset, hostArray(dtype, data));
    },
    read(storage, dtype, size) {
      const out = dtype === 'i32' ? new Int32Array(size) : new Float32Array(size);
      native.read(storage, size, out);
      return out;
    },

    fill: (out, n, value) => native.fill(out, n, value),
    strided: (x, xOffset, xStrides, out, outOffset, outStrides, shape) =>
      native.strided(x, xOffset, xStrides, out, outOffset, outStrides, shape),
    cast: (x, from, out, to, n) => native.cast(x, DTYPE_CODE[from], out, DTYPE_CODE[to], n),

    unary: (op, x, out, n) => native.unary(op, x, out, n),
    unaryGrad: (op, x, gy, gx, n) => native.unaryGrad(op, x, gy, gx, n),
    binary: (op, a, aStrides, b, bStrides, out, shape) =>
      native.binary(op, a, aStrides, b, bStrides, out, shape),
    where: (c, cStrides, a, aStrides, b, bStrides, out, shape) =>
      native.where(c, cStrides, a, aStrides, b, bStrides, out, shape),
    affine: (x, out, n, mul, add) => native.affine(x, out, n, mul, add),
    swiglu: (gate, up, out, n, round, roundOutput, halfOnly) =>
      native.swiglu(gate, up, out, n, roundCode(round), roundCode(roundOutput), halfOnlyFlag(halfOnly)),
    swigluGrad: (gate, up, gy, gGate, gUp, n, round, roundGy, roundGrads, halfOnly) =>
      native.swigluGrad(
        gate,
        up,
        gy,
        gGate,
        gUp,
        n,
        roundCode(round),
        roundCode(roundGy),
        roundCode(roundGrads),
        halfOnlyFlag(halfOnly),
      ),
    roundTo: (x, out, to, n) => native.roundTo(x, out, DTYPE_CODE[to], n),

    reduce: (op, x, out, outer, mid, inner) => native.reduce(op, x, out, outer, mid, inner),
    sumSquares: (x, n) => native.sumSquares(x, n),
    sumSquaresMany: (xs, ns) => native.sumSquaresMany(xs, ns),
    columnStats: (x, out, rows, cols, threshold) => native.columnStats(x, out, rows, cols, threshold),

    // (asked before every FP8 product: the device's answer is kept)
    fp8Problem: () => {
      fp8Answer ??= {
        problem:
          typeof native.fp8Support === 'function'
            ? native.fp8Support() || null
            : 'this cuda addon was built before FP8 products (rebuild: npm run build:cuda)',
      };
      return fp8Answer.problem;
    },
    matmulFp8: (a, b, out, g) =>
      native.matmulFp8(
        a,
        b,
        out,
        g.m,
        g.n,
        g.k,
        g.transA,
        g.transB,
        g.aFormat,
        g.bFormat,
        roundCode(g.roundA),
        roundCode(g.roundB),
        g.accumulate === true,
        roundCode(g.roundOutput),
        halfOnlyFlag(g.halfOnly),
      ),
    matmul: (a, b, out, g) =>
      native.matmul(
        a,
        b,
        out,
        g.batch,
        g.m,
        g.n,
        g.k,
        g.transA,
        g.transB,
        g.aBatchStride,
        g.bBatchStride,
        g.alpha,
        g.accumulate,
        roundCode(g.roundOutput),
        halfOnlyFlag(g.halfOnly),
      ),

    gather: (table, idx, out, nIdx, rowSize) => native.gather(table, idx, out, nIdx, rowSize),
    scatterAdd: (src, idx, out, nIdx, rowSize) => native.scatterAdd(src, idx, out, nIdx, rowSize),

    softmax: (x, out, rows, cols) => native.softmax(x, out, rows, cols),
    softmaxGrad: (y, gy, gx, rows, cols) => native.softmaxGrad(y, gy, gx, rows, cols),
    logSoftmax: (x, out, rows, cols) => native.logSoftmax(x, out, rows, cols),
    logSoftmaxGrad: (y, gy, gx, rows, cols) => native.logSoftmaxGrad(y, gy, gx, rows, cols),
    crossEntropy: (logits, targets, loss, lse, rows, cols, roundLogits) =>
      native.crossEntropy(logits, targets, loss, lse, rows, cols, roundCode(roundLogits)),
    crossEntropyGrad: (logits, targets, lse, gLoss, gLogits, rows, cols, roundLogits, roundGrads, halfOnly) =>
      native.crossEntropyGrad(
        logits,
        targets,
        lse,
        gLoss,
        gLogits,
        rows,
        cols,
        roundCode(roundLogits),
        roundCode(roundGrads),
        halfOnlyFlag(halfOnly),
      ),
    // KL(teacher ‖ student) on logits (distillation)
    klDivLogits: (student, teacher, loss, lseS, lseT, rows, cols) =>
      native.klDivLogits(student, teacher, loss, lseS, lseT, rows, cols),
    klDivLogitsGrad: (student, teacher, lseS, lseT, gLoss, gStudent, rows, cols) =>
      native.klDivLogitsGrad(student, teacher, lseS, lseT, gLoss, gStudent, rows, cols),
    rmsNorm: (x, w, out, rstd, rows, cols, eps) => native.rmsNorm(x, w, out, rstd, rows, cols, eps),
    addRmsNorm: (x, r, w, sum, out, rstd, rows, cols, eps, roundDelta, roundOutput, halfOnly) =>
      native.addRmsNorm(
        x,
        r,
        w,
        sum,
        out,
        rstd,
        rows,
        cols,
        eps,
        roundCode(roundDelta),
        roundCode(roundOutput),
        halfOnlyFlag(halfOnly),
      ),
    rmsNormGrad: (x, w, rstd, gy, gx, gw, rows, cols, accumulate, roundGy) =>
      native.rmsNormGrad(x, w, rstd, gy, gx, gw, rows, cols, accumulate, roundCode(roundGy)),
    layerNorm: (x, w, b, out, mean, rstd, rows, cols, eps) =>
      native.layerNorm(x, w, b, out, mean, rstd, rows, cols, eps),
    layerNormGrad: (x, w, mean, rstd, gy, gx, gw, gb, rows, cols) =>
      native.layerNormGrad(x, w, mean, rstd, gy, gx, gw, gb, rows, cols),
    rope: (x, out, B, T, nh, hs, base, posOffset, direction, roundInput, roundOutput, halfOnly) =>
      native.rope(
        x,
        out,
        B,
        T,
        nh,
        hs,
        base,
        posOffset,
        direction,
        roundCode(roundInput),
        roundCode(roundOutput),
        halfOnlyFlag(halfOnly),
      ),
    attention: (q, k, v, out, lse, B, T, nh, hs, scale, causal) =>
      native.attention(q, k, v, out, lse, B, T, nh, hs, scale, causal),
    attentionGrad: (q, k, v, out, lse, gOut, gq, gk, gv, B, T, nh, hs, scale, causal) =>
      native.attentionGrad(q, k, v, out, lse, gOut, gq, gk, gv, B, T, nh, hs, scale, causal),

    random: (out, n, dist, seed, offset) => native.random(out, n, dist, seed, offset),
    dropout: (x, out, n, p, seed, offset) => native.dropout(x, out, n, p, seed, offset),

    adamw: (param, grad, m, v, n, a) =>
      native.adamw(param, grad, m, v, n, a.lr, a.beta1, a.beta2, a.eps, a.weightDecay, a.step, a.gradScale),

    packedGemm(codes, g, h, x, y, rows, cols, batch, ternary) {
      if (!native.packedGemm)
        throw new CudaBackendError(
          'cuda packedGemm: this cuda addon was built without native/cuda/onebit.cu (rebuild: npm run build:cuda)',
        );
      native.packedGemm(codes, g, h, x, y, rows, cols, batch, ternary);
    },

    fakeQuant: (spec, x, out, rows, cols, steMask, roundOutput, halfOnly) =>
      native.fakeQuant(
        encodeFakeQuantSpec(spec),
        x,
        out,
        rows,
        cols,
        steMask,
        roundCode(roundOutput),
        halfOnlyFlag(halfOnly),
      ),
  };
}
