// The `cpu` backend: the Backend interface over the native addon (native/cpu). Storages are plain typed
// arrays (Float32Array for f32, Int32Array for i32, Uint16Array for bf16/f16) handed to C++ without copies,
// drawn from a pool so that training loops reuse memory instead of churning the garbage collector.
import { fakeQuantArray } from '../../numerics/fake-quant.ts';
import { encodeFakeQuantSpec } from '../../numerics/spec.ts';
import type { Backend, DType } from '../backend.ts';
import { packedGemm } from '../js/packed.ts';
import type { CpuAddon, CpuStorage } from './addon-types.ts';
import { BufferPool, type PoolStats } from './buffer-pool.ts';
import { CpuBackendError, CpuKernelError } from './errors.ts';
import { registerNativeGptq } from './gptq-kernels.ts';
import { loadCpuAddon } from './load-addon.ts';

export type { CpuStorage } from './addon-types.ts';

const DTYPE_CODE: Record<DType, number> = { f32: 0, i32: 1, bf16: 2, f16: 3 };
/** The native round argument of a fused op: 0 (none), else the half type's dtype code. */
const roundCode = (to: 'bf16' | 'f16' | undefined) => (to ? DTYPE_CODE[to] : 0);
const BYTES: Record<DType, number> = { f32: 4, i32: 4, bf16: 2, f16: 2 };

export interface CpuBackend extends Backend<CpuStorage> {
  /** Threads used by the kernels and by OpenBLAS (BITSCALE_THREADS or OMP_NUM_THREADS, else all cores). */
  threads(): number;
  setThreads(n: number): number;
  poolStats(): PoolStats;
  /** Returns pooled (free) buffers to the garbage collector. */
  trimPool(): void;
  /** The raw addon, for benchmarks. */
  readonly addon: CpuAddon;
}

export interface CpuBackendOptions {
  threads?: number;
  /** Upper bound on the bytes the pool keeps for reuse. */
  maxPooledBytes?: number;
}

/** Every addon function, rethrowing native errors as CpuKernelError (which names the kernel and argument). */
function guarded(addon: CpuAddon): CpuAddon {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(addon)) {
    if (typeof fn !== 'function') continue;
    out[name] = (...args: unknown[]) => {
      try {
        return fn(...args);
      } catch (e) {
        throw new CpuKernelError(name, e as Error);
      }
    };
  }
  return out as unknown as CpuAddon;
}

function f32(s: CpuStorage, kernel: string, arg: string): Float32Array {
  if (!(s instanceof Float32Array)) {
    throw new CpuBackendError(
      `cpu kernel ${kernel}: ${arg} must be an f32 storage (Float32Array), got ${s?.constructor?.name}`,
    );
  }
  return s;
}

function i32(s: CpuStorage, kernel: string, arg: string): Int32Array {
  if (!(s instanceof Int32Array)) {
    throw new CpuBackendError(
      `cpu kernel ${kernel}: ${arg} must be an i32 storage (Int32Array), got ${s?.constructor?.name}`,
    );
  }
  return s;
}

/** The cpu backend; throws CpuBackendError with build instructions when the addon is not available. */
export function createCpuBackend(options: CpuBackendOptions = {}): CpuBackend {
  const loaded = loadCpuAddon();
  if ('error' in loaded) throw new CpuBackendError(loaded.error);
  const native = guarded(loaded.addon);
  registerNativeGptq(); // GPTQ (numerics) runs on this addon from now on
  if (options.threads !== undefined) native.setThreads(options.threads);
  const pool = new BufferPool(options.maxPooledBytes);

  function view(dtype: DType, buffer: ArrayBuffer, size: number): CpuStorage {
    if (dtype === 'f32') return new Float32Array(buffer, 0, size);
    if (dtype === 'i32') return new Int32Array(buffer, 0, size);
    return new Uint16Array(buffer, 0, size);
  }

  /** x's first n values rounded to `to` in a new buffer; x itself without `to`. */
  const rounded = (x: Float32Array, n: number, to: 'bf16' | 'f16' | undefined) => {
    if (!to) return x;
    const copy = new Float32Array(n);
    native.roundTo(x, copy, DTYPE_CODE[to], n);
    return copy;
  };
  /** The first n values of a storage rounded to `to` in place (an op's output rounded as it is stored). */
  const roundInPlace = (x: CpuStorage, n: number, to: 'bf16' | 'f16' | undefined) => {
    if (to) native.roundTo(x as Float32Array, x as Float32Array, DTYPE_CODE[to], n);
  };

  return {
    name: 'cpu',
    addon: loaded.addon,
    threads: () => native.threads(),
    setThreads: (n) => native.setThreads(n),
    poolStats: () => pool.stats(),
    trimPool: () => pool.trim(),

    alloc(dtype, size) {
      if (!(dtype in BYTES))
        throw new CpuBackendError(`cpu alloc: dtype '${dtype}' is not one of f32, i32, bf16, f16`);
      if (!Number.isInteger(size) || size < 0)
        throw new CpuBackendError(`cpu alloc: size ${size} is not a whole number >= 0`);
      const { buffer, fresh } = pool.acquire(size * BYTES[dtype]);
      const storage = view(dtype, buffer, size);
      if (!fresh) storage.fill(0);
      return storage;
    },
    free(storage) {
      pool.release(storage.buffer as ArrayBuffer);
    },
    write(storage, dtype, data, offset = 0) {
      if (dtype === 'f32' || dtype === 'i32') {
        storage.set(data, offset);
        return;
      }
      const staged = Float32Array.from(data);
      native.cast(
        staged,
        0,
        storage.subarray(offset, offset + staged.length),
        DTYPE_CODE[dtype],
        staged.length,
      );
    },
    read(storage, dtype, size) {
      if (dtype === 'f32') return f32(storage, 'read', 'storage').slice(0, size);
      if (dtype === 'i32') return i32(storage, 'read', 'storage').slice(0, size);
      const out = new Float32Array(size);
      native.cast(storage, DTYPE_CODE[dtype], out, 0, size);
      return out;
    },

    fill: (out, n, value) => native.fill(out, n, value),
    strided: (x, xOffset, xStrides, out, outOffset, outStrides, shape) =>
      native.strided(x, xOffset, xStrides, out, outOffset, outStrides, shape),
    cast: (x, from, out, to, n) => native.cast(x, DTYPE_CODE[from], out, DTYPE_CODE[to], n),

    unary: (op, x, out, n) => native.unary(op, x as Float32Array, out as Float32Array, n),
    unaryGrad: (op, x, gy, gx, n) =>
      native.unaryGrad(op, x as Float32Array, gy as Float32Array, gx as Float32Array, n),
    binary: (op, a, aStrides, b, bStrides, out, shape) =>
      native.binary(op, a as Float32Array, aStrides, b as Float32Array, bStrides, out as Float32Array, shape),
    where: (c, cStrides, a, aStrides, b, bStrides, out, shape) =>
      native.where(
        c as Float32Array,
        cStrides,
        a as Float32Array,
        aStrides,
        b as Float32Array,
        bStrides,
        out as Float32Array,
        shape,
      ),
    affine: (x, out, n, mul, add) => native.affine(x as Float32Array, out as Float32Array, n, mul, add),
    swiglu: (gate, up, out, n, round, roundOutput) =>
      native.swiglu(
        gate as Float32Array,
        up as Float32Array,
        out as Float32Array,
        n,
        roundCode(round),
        roundCode(roundOutput),
      ),
    swigluGrad(gate, up, gy, gGate, gUp, n, round, roundGy, roundGrads) {
      native.swigluGrad(
        gate as Float32Array,
        up as Float32Array,
        gy as Float32Array,
        gGate as Float32Array,
        gUp as Float32Array,
        n,
        roundCode(round),
        roundCode(roundGy),
      );
      roundInPlace(gGate, n, roundGrads);
      roundInPlace(gUp, n, roundGrads);
    },
    roundTo: (x, out, to, n) => native.roundTo(x as Float32Array, out as Float32Array, DTYPE_CODE[to], n),

    reduce: (op, x, out, outer, mid, inner) =>
      native.reduce(op, x as Float32Array, out as Float32Array, outer, mid, inner),
    sumSquares: (x, n) => native.sumSquares(x as Float32Array, n),
    columnStats(x, out, rows, cols, threshold) {
      if (typeof native.columnStats !== 'function') {
        throw new CpuBackendError(
          `cpu kernel columnStats: the addon at ${loaded.path} predates it (native/cpu/stats.cc); rebuild it with \`npm run setup\``,
        );
      }
      native.columnStats(f32(x, 'columnStats', 'x'), f32(out, 'columnStats', 'out'), rows, cols, threshold);
    },

    matmul(a, b, out, g) {
      native.matmul(
        a as Float32Array,
        b as Float32Array,
        out as Float32Array,
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
      );
      roundInPlace(out, g.batch * g.m * g.n, g.roundOutput);
    },

    gather: (table, idx, out, nIdx, rowSize) =>
      native.gather(table as Float32Array, idx as Int32Array, out as Float32Array, nIdx, rowSize),
    scatterAdd: (src, idx, out, nIdx, rowSize) =>
      native.scatterAdd(src as Float32Array, idx as Int32Array, out as Float32Array, nIdx, rowSize),

    softmax: (x, out, rows, cols) => native.softmax(x as Float32Array, out as Float32Array, rows, cols),
    softmaxGrad: (y, gy, gx, rows, cols) =>
      native.softmaxGrad(y as Float32Array, gy as Float32Array, gx as Float32Array, rows, cols),
    logSoftmax: (x, out, rows, cols) => native.logSoftmax(x as Float32Array, out as Float32Array, rows, cols),
    logSoftmaxGrad: (y, gy, gx, rows, cols) =>
      native.logSoftmaxGrad(y as Float32Array, gy as Float32Array, gx as Float32Array, rows, cols),
    // roundLogits: the kernels read a rounded copy (the CPU is not where the fused head's pass matters).
    crossEntropy: (logits, targets, loss, lse, rows, cols, roundLogits) =>
      native.crossEntropy(
        rounded(logits as Float32Array, rows * cols, roundLogits),
        targets as Int32Array,
        loss as Float32Array,
        lse as Float32Array,
        rows,
        cols,
      ),
    crossEntropyGrad(logits, targets, lse, gLoss, gLogits, rows, cols, roundLogits, roundGrads) {
      native.crossEntropyGrad(
        rounded(logits as Float32Array, rows * cols, roundLogits),
        targets as Int32Array,
        lse as Float32Array,
        gLoss as Float32Array,
        gLogits as Float32Array,
        rows,
        cols,
      );
      roundInPlace(gLogits, rows * cols, roundGrads);
    },
    // KL(teacher ‖ student) on logits (distillation)
    klDivLogits: (student, teacher, loss, lseS, lseT, rows, cols) =>
      native.klDivLogits(
        student as Float32Array,
        teacher as Float32Array,
        loss as Float32Array,
        lseS as Float32Array,
        lseT as Float32Array,
        rows,
        cols,
      ),
    klDivLogitsGrad: (student, teacher, lseS, lseT, gLoss, gStudent, rows, cols) =>
      native.klDivLogitsGrad(
        student as Float32Array,
        teacher as Float32Array,
        lseS as Float32Array,
        lseT as Float32Array,
        gLoss as Float32Array,
        gStudent as Float32Array,
        rows,
        cols,
      ),
    rmsNorm: (x, w, out, rstd, rows, cols, eps) =>
      native.rmsNorm(
        x as Float32Array,
        w as Float32Array,
        out as Float32Array,
        rstd as Float32Array,
        rows,
        cols,
        eps,
      ),
    addRmsNorm(x, r, w, sum, out, rstd, rows, cols, eps, roundDelta, roundOutput) {
      native.addRmsNorm(
        x as Float32Array,
        r as Float32Array,
        w as Float32Array,
        sum as Float32Array,
        out as Float32Array,
        rstd as Float32Array,
        rows,
        cols,
        eps,
        roundCode(roundDelta),
      );
      roundInPlace(out, rows * cols, roundOutput);
    },
    rmsNormGrad: (x, w, rstd, gy, gx, gw, rows, cols, accumulate, roundGy) =>
      native.rmsNormGrad(
        x as Float32Array,
        w as Float32Array,
        rstd as Float32Array,
        gy as Float32Array,
        gx as Float32Array,
        gw as Float32Array,
        rows,
        cols,
        accumulate,
        roundCode(roundGy),
      ),
    layerNorm: (x, w, b, out, mean, rstd, rows, cols, eps) =>
      native.layerNorm(
        x as Float32Array,
        w as Float32Array | null,
        b as Float32Array | null,
        out as Float32Array,
        mean as Float32Array,
        rstd as Float32Array,
        rows,
        cols,
        eps,
      ),
    layerNormGrad: (x, w, mean, rstd, gy, gx, gw, gb, rows, cols) =>
      native.layerNormGrad(
        x as Float32Array,
        w as Float32Array | null,
        mean as Float32Array,
        rstd as Float32Array,
        gy as Float32Array,
        gx as Float32Array,
        gw as Float32Array | null,
        gb as Float32Array | null,
        rows,
        cols,
      ),
    rope(x, out, B, T, nh, hs, base, posOffset, direction, roundInput, roundOutput) {
      native.rope(
        x as Float32Array,
        out as Float32Array,
        B,
        T,
        nh,
        hs,
        base,
        posOffset,
        direction,
        roundCode(roundInput),
      );
      roundInPlace(out, B * T * nh * hs, roundOutput);
    },
    attention: (q, k, v, out, lse, B, T, nh, hs, scale, causal) =>
      native.attention(
        q as Float32Array,
        k as Float32Array,
        v as Float32Array,
        out as Float32Array,
        lse as Float32Array,
        B,
        T,
        nh,
        hs,
        scale,
        causal,
      ),
    attentionGrad: (q, k, v, out, lse, gOut, gq, gk, gv, B, T, nh, hs, scale, causal) =>
      native.attentionGrad(
        q as Float32Array,
        k as Float32Array,
        v as Float32Array,
        out as Float32Array,
        lse as Float32Array,
        gOut as Float32Array,
        gq as Float32Array,
        gk as Float32Array,
        gv as Float32Array,
        B,
        T,
        nh,
        hs,
        scale,
        causal,
      ),

    random: (out, n, dist, seed, offset) => native.random(out as Float32Array, n, dist, seed, offset),
    dropout: (x, out, n, p, seed, offset) =>
      native.dropout(x as Float32Array, out as Float32Array, n, p, seed, offset),

    adamw: (param, grad, m, v, n, a) =>
      native.adamw(
        param as Float32Array,
        grad as Float32Array,
        m as Float32Array,
        v as Float32Array,
        n,
        a.lr,
        a.beta1,
        a.beta2,
        a.eps,
        a.weightDecay,
        a.step,
        a.gradScale,
      ),

    // The exact fp32 kernels of native/cpu/onebit.cc (not the table lookup, whose tiled codes are another
    // layout); the TypeScript loop where this addon build lacks them.
    packedGemm(codes, g, h, x, y, rows, cols, batch, ternary) {
      const c = i32(codes, 'packedGemm', 'codes');
      const [gs, hs, xs, ys] = [g, h, x, y].map((s, i) => f32(s, 'packedGemm', ['g', 'h', 'x', 'y'][i]));
      const kernel = ternary ? native.ternaryGemm : native.onebitGemm;
      if (!kernel) return packedGemm(c, gs, hs, xs, ys, rows, cols, batch, ternary);
      kernel(new Uint8Array(c.buffer, c.byteOffset, c.byteLength), gs, hs, xs, ys, rows, cols, batch);
    },
    fakeQuant(spec, x, out, rows, cols, steMask, roundOutput) {
      const xs = f32(x, 'fakeQuant', 'x');
      const os = f32(out, 'fakeQuant', 'out');
      const mask = steMask && f32(steMask, 'fakeQuant', 'steMask');
      // The native kernel (native/cpu/fake_quant.cc, owned by numerics) when built; else the TypeScript one,
      // which works on these Float32Arrays directly.
      if (native.fakeQuant) native.fakeQuant(encodeFakeQuantSpec(spec), xs, os, rows, cols, mask);
      else fakeQuantArray(spec, xs, os, rows, cols, mask);
      roundInPlace(out, rows * cols, roundOutput);
    },
  };
}
