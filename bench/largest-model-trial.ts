// One trial of bench/largest-model.ts, run in a fresh process so that nothing of an earlier trial is held: two
// training steps of the Transformer++ (the model of bench/cuda-train-step.ts: bf16 matmuls, fp32 master weights
// and activations, AdamW) under a cap on the backend's memory. On cuda the cap is the caching allocator's
// (setMemoryLimit, as BITSCALE_CUDA_MEMORY_LIMIT sets it) and the peak is its peak of bytes in use; on cpu (tests,
// tiny models) the backend is wrapped to count the bytes of live storages and fail past the cap, the same measure.
// Prints one JSON line: the TrialResult of largest-model-search.ts. Out of memory is a result; any other error
// is not (it propagates and the process exits 1).
import '../src/backends/index.ts';
import type { Backend, DType } from '../src/backends/backend.ts';
import type { CudaBackend } from '../src/backends/cuda/cuda-backend.ts';
import { resolveModelConfig } from '../src/nn/config.ts';
import { initParams, lossOf } from '../src/nn/transformer.ts';
import * as T from '../src/tensor/index.ts';
import { AdamW } from '../src/train/adamw.ts';
import type { TrialResult } from './largest-model-search.ts';

export interface TrialSpec {
  backend: 'cuda' | 'cpu';
  d: number;
  layers: number;
  heads: number;
  context: number;
  batch: number;
  vocab: number;
  capBytes: number;
}

/** What the cpu stand-in throws past its cap (the cuda allocator's error says the same words). */
export class CappedOutOfMemory extends Error {
  constructor(bytes: number, live: number, cap: number) {
    super(`allocating ${bytes} bytes with ${live} in use: out of memory under the cap of ${cap} bytes`);
    this.name = 'CappedOutOfMemory';
  }
}

const BYTES: Record<DType, number> = { f32: 4, i32: 4, bf16: 2, f16: 2 };

/** `inner` with the bytes of its live storages counted and capped; peak() is the most held at once. */
export function cappedBackend(inner: Backend, capBytes: number): Backend & { peak(): number } {
  const bytesOf = new Map<unknown, number>();
  let live = 0;
  let peak = 0;
  return {
    ...inner,
    name: `${inner.name}-capped`,
    alloc(dtype: DType, size: number) {
      const bytes = size * BYTES[dtype];
      if (live + bytes > capBytes) throw new CappedOutOfMemory(bytes, live, capBytes);
      const handle = inner.alloc(dtype, size);
      bytesOf.set(handle, bytes);
      live += bytes;
      peak = Math.max(peak, live);
      return handle;
    },
    free(handle: unknown) {
      live -= bytesOf.get(handle) ?? 0;
      bytesOf.delete(handle);
      inner.free(handle);
    },
    peak: () => peak,
  };
}

/** Both backends' words for running out: the cuda allocator's cap, a real cudaMalloc failure, the cpu cap. */
export const isOutOfMemory = (e: unknown) => e instanceof Error && /out of memory/i.test(e.message);

export function runTrial(s: TrialSpec): TrialResult {
  let peak: () => number;
  let sync = () => {};
  if (s.backend === 'cuda') {
    const cuda = T.setDefaultBackend('cuda') as CudaBackend;
    cuda.setMatmulMode('bf16');
    cuda.setMemoryLimit(s.capBytes);
    cuda.resetPeakMemory();
    peak = () => cuda.memoryStats().peakInUseBytes;
    sync = () => cuda.synchronize();
  } else {
    const capped = cappedBackend(T.getBackend('cpu'), s.capBytes);
    T.registerBackend('cpu-capped', () => capped);
    T.setDefaultBackend('cpu-capped');
    peak = () => capped.peak();
  }
  const model = resolveModelConfig({
    vocabSize: s.vocab,
    dModel: s.d,
    nLayers: s.layers,
    nHeads: s.heads,
    context: s.context,
  });
  const tokens = Int32Array.from({ length: s.batch * s.context }, (_, i) => (i * 7919) % s.vocab);
  const targets = Int32Array.from({ length: s.batch * s.context }, (_, i) => (i * 104729) % s.vocab);
  try {
    const params = initParams(model, 0);
    const opt = new AdamW(params, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1 });
    const step = () => {
      T.tidy(() => {
        const x = T.tensor(tokens, [s.batch, s.context], { dtype: 'i32' });
        const y = T.tensor(targets, [s.batch, s.context], { dtype: 'i32' });
        T.backward(lossOf(model, params, x, y, { train: true }));
      });
      opt.update(1e-3);
    };
    step(); // the first step also allocates AdamW's moments
    sync();
    const start = performance.now();
    step();
    sync();
    const ms = performance.now() - start;
    return {
      ok: true,
      layers: s.layers,
      peakBytes: peak(),
      tokensPerSecond: (s.batch * s.context * 1000) / ms,
    };
  } catch (e) {
    if (!isOutOfMemory(e)) throw e;
    return { ok: false, layers: s.layers, oom: true, message: (e as Error).message.split('\n')[0] };
  }
}
