// The allocator's memory cap (BITSCALE_CUDA_MEMORY_LIMIT / setMemoryLimit) and its peak: an allocation past the
// cap trims the cache and then fails naming the limit; under it works; the peak of bytes in use is tracked and
// restarts on reset. Skips without a GPU.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runTrial } from '../../bench/largest-model-trial.ts';
import { createCudaBackend } from '../../src/backends/cuda/cuda-backend.ts';
import { MEMORY_LIMIT_ENV } from '../../src/backends/cuda/memory-limit.ts';
import { cuda, skip } from './helpers.ts';

const MiB = 2 ** 20;

/** Runs fn under a cap of `bytes` above what the allocator holds now, with an empty cache; removes the cap after. */
function underCap(bytes: number, fn: (limit: number) => void) {
  cuda.trimCache();
  const limit = cuda.memoryStats().inUseBytes + bytes;
  cuda.setMemoryLimit(limit);
  try {
    fn(limit);
  } finally {
    cuda.setMemoryLimit(null);
  }
}

test('an allocation past the limit throws an out-of-memory error naming it; under the limit works', {
  skip,
}, () => {
  underCap(64 * MiB, (limit) => {
    assert.equal(cuda.memoryStats().limitBytes, limit);
    const a = cuda.alloc('f32', (32 * MiB) / 4); // 32 MiB: fits
    assert.throws(
      () => cuda.alloc('f32', (40 * MiB) / 4), // 32 + 40 > 64
      new RegExp(`out of memory under ${MEMORY_LIMIT_ENV} = ${limit} bytes`),
    );
    const b = cuda.alloc('f32', (30 * MiB) / 4); // 32 + 30 <= 64: the failure left nothing behind
    cuda.free(a);
    cuda.free(b);
  });
  assert.equal(cuda.memoryStats().limitBytes, null);
  const big = cuda.alloc('f32', (128 * MiB) / 4); // no cap any more
  cuda.free(big);
});

test('cached blocks count toward the limit and are trimmed before an allocation fails', { skip }, () => {
  underCap(64 * MiB, () => {
    const a = cuda.alloc('f32', (48 * MiB) / 4);
    cuda.free(a); // 48 MiB now cached, none of it reusable for a 40 MiB request's size class
    const before = cuda.memoryStats().cachedBytes;
    assert.ok(before >= 48 * MiB);
    const b = cuda.alloc('f32', (20 * MiB) / 4); // 48 cached + 20 > 64: the cache is trimmed, then it fits
    assert.ok(cuda.memoryStats().cachedBytes < before);
    assert.ok(
      cuda.memoryStats().inUseBytes + cuda.memoryStats().cachedBytes <= cuda.memoryStats().limitBytes!,
    );
    cuda.free(b);
  });
});

test('the peak of bytes in use is tracked and restarts on reset', { skip }, () => {
  cuda.trimCache();
  cuda.resetPeakMemory();
  const base = cuda.memoryStats().inUseBytes;
  assert.equal(cuda.memoryStats().peakInUseBytes, base);
  const a = cuda.alloc('f32', (16 * MiB) / 4);
  const b = cuda.alloc('f32', (8 * MiB) / 4);
  cuda.free(a);
  cuda.free(b);
  const stats = cuda.memoryStats();
  assert.equal(stats.inUseBytes, base);
  assert.equal(stats.peakInUseBytes, base + 24 * MiB);
  cuda.resetPeakMemory();
  assert.equal(cuda.memoryStats().peakInUseBytes, base);
  const c = cuda.alloc('f32', (4 * MiB) / 4); // from the cache: still counts as in use
  assert.equal(cuda.memoryStats().peakInUseBytes, base + 4 * MiB);
  cuda.free(c);
});

test(`${MEMORY_LIMIT_ENV} sets the cap when a backend is created; a bad value fails naming it`, {
  skip,
}, () => {
  const saved = process.env[MEMORY_LIMIT_ENV];
  try {
    process.env[MEMORY_LIMIT_ENV] = '3GiB';
    assert.equal(createCudaBackend().memoryStats().limitBytes, 3 * 2 ** 30);
    process.env[MEMORY_LIMIT_ENV] = '3 furlongs';
    assert.throws(() => createCudaBackend(), new RegExp(`${MEMORY_LIMIT_ENV} = '3 furlongs'`));
  } finally {
    if (saved === undefined) delete process.env[MEMORY_LIMIT_ENV];
    else process.env[MEMORY_LIMIT_ENV] = saved;
    cuda.setMemoryLimit(null);
  }
});

test('a largest-model trial on cuda: passes with its peak under a roomy cap, reports out of memory under a tight one', {
  skip,
}, () => {
  const spec = { backend: 'cuda', d: 128, layers: 2, heads: 1, context: 64, batch: 2, vocab: 256 } as const;
  try {
    const roomy = runTrial({ ...spec, capBytes: 2 ** 30 });
    assert.ok(roomy.ok, JSON.stringify(roomy));
    assert.ok(roomy.peakBytes > 0 && roomy.peakBytes <= 2 ** 30 && roomy.tokensPerSecond > 0);
    const tight = runTrial({ ...spec, capBytes: Math.floor(roomy.peakBytes / 2) });
    assert.equal(tight.ok, false);
    assert.match(!tight.ok ? tight.message : '', /out of memory under BITSCALE_CUDA_MEMORY_LIMIT/);
  } finally {
    cuda.setMemoryLimit(null);
    cuda.trimCache();
  }
});
