// Shared by the cuda tests: the backend when the addon and a GPU are here, else the reason to skip.
import type { CudaBackend, CudaStorage } from '../../src/backends/cuda/cuda-backend.ts';
import { createCudaBackend } from '../../src/backends/cuda/cuda-backend.ts';
import { loadCudaAddon } from '../../src/backends/cuda/load-addon.ts';
import { createJsBackend } from '../../src/backends/js/js-backend.ts';
import type { JsStorage } from '../../src/backends/js/storage.ts';
import { philoxFill } from '../../src/base/philox.ts';

function load(): { backend: CudaBackend } | { skip: string } {
  const loaded = loadCudaAddon();
  if ('error' in loaded) return { skip: loaded.error };
  return { backend: createCudaBackend() };
}

const loaded = load();
export const skip: string | false = 'skip' in loaded ? loaded.skip : false;
export const cuda = ('backend' in loaded ? loaded.backend : null) as CudaBackend;

export function upload(data: ArrayLike<number>, dtype: 'f32' | 'i32' = 'f32'): CudaStorage {
  const s = cuda.alloc(dtype, data.length);
  cuda.write(s, dtype, data);
  return s;
}

export function download(s: CudaStorage, n: number, dtype: 'f32' | 'i32' = 'f32'): Float32Array | Int32Array {
  return cuda.read(s, dtype, n) as Float32Array | Int32Array;
}

/** Relative error ‖a − b‖ / ‖b‖. */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-300));
}

export function assertClose(
  what: string,
  ours: ArrayLike<number>,
  ref: ArrayLike<number>,
  abs: number,
  rel: number,
) {
  if (ours.length !== ref.length) throw new Error(`${what}: length ${ours.length} vs ${ref.length}`);
  for (let i = 0; i < ref.length; i++) {
    const err = Math.abs(ours[i] - ref[i]);
    if (!(err <= abs + rel * Math.abs(ref[i]))) {
      throw new Error(`${what}[${i}]: ${ours[i]} vs reference ${ref[i]} (tolerance ${abs} + ${rel} |ref|)`);
    }
  }
}

/** n philox normals (stream 0) times scale. */
export function normal(n: number, seed: number, scale = 1): Float32Array {
  const x = new Float32Array(n);
  philoxFill(x, n, 'normal', seed, 0);
  for (let i = 0; i < n; i++) x[i] *= scale;
  return x;
}

/** Runs fn with the cuda matmul mode set, restoring the previous mode after. */
export function inMode<R>(mode: 'fp16' | 'bf16' | 'tf32' | 'fp32', fn: () => R): R {
  const previous = cuda.setMatmulMode(mode);
  try {
    return fn();
  } finally {
    cuda.setMatmulMode(previous);
  }
}

/** The float64 js backend the cuda tests compare against. */
export const js = createJsBackend({ float64: true });

/** data in a storage of the reference backend. */
export function ref(data: ArrayLike<number>, dtype: 'f32' | 'i32' = 'f32'): JsStorage {
  const s = js.alloc(dtype, data.length);
  js.write(s, dtype, data);
  return s;
}

export type AttentionResult = Record<'out' | 'lse' | 'gq' | 'gk' | 'gv', Float32Array>;

/** Attention forward and backward of one random case on js (the reference) and on cuda. */
export function attentionBoth(
  [B, T, nh, hs]: readonly number[],
  causal: boolean,
  seed: number,
): { ref: AttentionResult; ours: AttentionResult } {
  const n = B * T * nh * hs;
  const [q, k, v, gOut] = [normal(n, seed), normal(n, seed + 1), normal(n, seed + 2), normal(n, seed + 3)];
  const scale = 1 / Math.sqrt(hs);
  const sizes = { out: n, lse: B * nh * T, gq: n, gk: n, gv: n };
  const keys = Object.keys(sizes) as (keyof AttentionResult)[];
  const r = Object.fromEntries(keys.map((key) => [key, js.alloc('f32', sizes[key])]));
  js.attention(ref(q), ref(k), ref(v), r.out, r.lse, B, T, nh, hs, scale, causal);
  js.attentionGrad(
    ref(q),
    ref(k),
    ref(v),
    r.out,
    r.lse,
    ref(gOut),
    r.gq,
    r.gk,
    r.gv,
    B,
    T,
    nh,
    hs,
    scale,
    causal,
  );
  const [cq, ck, cv, cg] = [upload(q), upload(k), upload(v), upload(gOut)];
  const c = Object.fromEntries(keys.map((key) => [key, cuda.alloc('f32', sizes[key])]));
  cuda.attention(cq, ck, cv, c.out, c.lse, B, T, nh, hs, scale, causal);
  cuda.attentionGrad(cq, ck, cv, c.out, c.lse, cg, c.gq, c.gk, c.gv, B, T, nh, hs, scale, causal);
  const read = (key: keyof AttentionResult, from: 'js' | 'cuda') =>
    (from === 'js' ? js.read(r[key], 'f32', sizes[key]) : download(c[key], sizes[key])) as Float32Array;
  return {
    ref: Object.fromEntries(keys.map((key) => [key, read(key, 'js')])) as AttentionResult,
    ours: Object.fromEntries(keys.map((key) => [key, read(key, 'cuda')])) as AttentionResult,
  };
}
