// The cuda backend's profiler (src/backends/cuda/profiler.ts) against a stand-in addon: BITSCALE_CUDA_PROFILE=gpu
// turns device marks into each call's time and the GPU's wait for the host between calls; a bad value is an error
// naming the allowed ones. Runs without a GPU.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CudaAddon } from '../../src/backends/cuda/addon-types.ts';
import { HOST_GAP, profilerFromEnv } from '../../src/backends/cuda/profiler.ts';

function withProfileEnv<T>(value: string | undefined, fn: () => T): T {
  const previous = process.env.BITSCALE_CUDA_PROFILE;
  if (value === undefined) delete process.env.BITSCALE_CUDA_PROFILE;
  else process.env.BITSCALE_CUDA_PROFILE = value;
  try {
    return fn();
  } finally {
    if (previous === undefined) delete process.env.BITSCALE_CUDA_PROFILE;
    else process.env.BITSCALE_CUDA_PROFILE = previous;
  }
}

test('gpu profile: call times from the marks around each call, host gaps from the marks between calls', () => {
  // Device times of the marks, in the order recorded: a 2 ms kernel, 0.5 ms waiting, a 1 ms kernel, no wait,
  // the same kernel again for 3 ms.
  const times = [0, 2, 2.5, 3.5, 3.5, 6.5];
  let recorded = 0;
  const addon = {
    profileMark: () => {
      recorded++;
    },
    profileTimes: (count: number) => {
      assert.equal(count, recorded);
      recorded = 0;
      return Float64Array.from(times.slice(0, count));
    },
  } as unknown as CudaAddon;
  const profiler = withProfileEnv('gpu', () => profilerFromEnv(addon))!;
  assert.equal(
    profiler.around('matmul', () => 7),
    7,
  );
  profiler.around('rope', () => undefined);
  profiler.around('matmul', () => undefined);
  const table = profiler.table();
  assert.deepEqual(table.matmul, { calls: 2, ms: 5 });
  assert.deepEqual(table.rope, { calls: 1, ms: 1 });
  assert.deepEqual(table[HOST_GAP], { calls: 2, ms: 0.5 });
  // A call that throws is still timed, and the error passes through.
  assert.throws(
    () =>
      profiler.around('bad', () => {
        throw new Error('kernel failed');
      }),
    /kernel failed/,
  );
});

test('BITSCALE_CUDA_PROFILE: off when unset or 0; gpu needs an addon with marks; other values are errors', () => {
  const addon = { sync: () => undefined } as unknown as CudaAddon;
  assert.equal(
    withProfileEnv(undefined, () => profilerFromEnv(addon)),
    null,
  );
  assert.equal(
    withProfileEnv('0', () => profilerFromEnv(addon)),
    null,
  );
  assert.ok(withProfileEnv('1', () => profilerFromEnv(addon)));
  assert.throws(
    () => withProfileEnv('gpu', () => profilerFromEnv(addon)),
    /built before device-side profiling/,
  );
  assert.throws(
    () => withProfileEnv('yes', () => profilerFromEnv(addon)),
    /BITSCALE_CUDA_PROFILE = 'yes': expected 1 \(synchronized\) or gpu \(device marks\)/,
  );
});
