// The cpu backend's allocator (pooled, zero-filled, guarded against double frees) and its argument errors.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BufferPool, sizeClass } from '../../src/backends/cpu/buffer-pool.ts';
import { createCpuBackend } from '../../src/backends/cpu/cpu-backend.ts';
import { CpuBackendError, CpuKernelError } from '../../src/backends/cpu/errors.ts';
import { cpu, skipCpu } from './helpers.ts';

describe('buffer pool', () => {
  test('size classes are four steps per octave and never smaller than asked', () => {
    assert.equal(sizeClass(1), 64);
    assert.equal(sizeClass(64), 64);
    assert.equal(sizeClass(65), 80);
    assert.equal(sizeClass(1000), 1024);
    assert.equal(sizeClass(1025), 1280);
    for (let bytes = 1; bytes < 1e6; bytes = Math.ceil(bytes * 1.37)) {
      const c = sizeClass(bytes);
      assert.ok(c >= bytes && (bytes <= 64 || c <= bytes * 1.25 + 1), `${bytes} -> ${c}`);
    }
  });

  test('released buffers are reused, double frees and foreign buffers throw', () => {
    const pool = new BufferPool();
    const a = pool.acquire(1000);
    assert.equal(a.fresh, true);
    pool.release(a.buffer);
    const b = pool.acquire(900); // same class (1024)
    assert.equal(b.fresh, false);
    assert.equal(b.buffer, a.buffer);
    pool.release(b.buffer);
    assert.throws(() => pool.release(b.buffer), /freed twice/);
    assert.throws(() => pool.release(new ArrayBuffer(64)), /not allocated by this backend/);
    assert.deepEqual(pool.stats(), { pooledBytes: 1024, liveBytes: 0, allocations: 1, reuses: 1 });
  });

  test('the pool keeps at most maxPooledBytes', () => {
    const pool = new BufferPool(2048);
    const bufs = [pool.acquire(1024), pool.acquire(1024), pool.acquire(1024)];
    for (const b of bufs) pool.release(b.buffer);
    assert.equal(pool.stats().pooledBytes, 2048);
  });
});

describe('cpu backend memory and errors', { skip: skipCpu }, () => {
  test('alloc returns zero-filled storage of the right type, also when reusing a buffer', () => {
    const b = cpu!;
    const x = b.alloc('f32', 96); // 384 bytes: the same size class as 90 floats
    assert.ok(x instanceof Float32Array && x.length === 96);
    x.fill(7);
    b.free(x);
    const y = b.alloc('f32', 90);
    assert.equal(y.buffer, x.buffer, 'the freed buffer is reused');
    assert.ok(y.every((v) => v === 0));
    assert.ok(b.alloc('i32', 3) instanceof Int32Array);
    assert.ok(b.alloc('bf16', 3) instanceof Uint16Array);
    assert.throws(() => b.alloc('f32', -1), CpuBackendError);
  });

  test('a training-like loop stops allocating after its first iteration', () => {
    const b = createCpuBackend();
    const sizes = [4096, 128, 128 * 2048, 7, 4096];
    const step = () => {
      const live = sizes.map((n) => b.alloc('f32', n));
      for (const s of live) b.free(s);
    };
    step();
    const before = b.poolStats().allocations;
    for (let i = 0; i < 50; i++) step();
    assert.equal(b.poolStats().allocations, before);
    assert.equal(b.poolStats().liveBytes, 0);
  });

  test('a wrong typed array names the kernel and the argument', () => {
    const b = cpu!;
    const f = b.alloc('f32', 4);
    const i = b.alloc('i32', 4);
    assert.throws(
      () => b.unary('exp', i, f, 4),
      (e: Error) =>
        e instanceof CpuKernelError &&
        /cpu kernel unary: argument 1 \(x\): expected Float32Array, got Int32Array/.test(e.message),
    );
    assert.throws(
      () => b.gather(f, f, f, 1, 4),
      /cpu kernel gather: argument 1 \(idx\): expected Int32Array, got Float32Array/,
    );
    assert.throws(
      () => b.softmax(f, f, 2, 4),
      /cpu kernel softmax: argument 0 \(x\): Float32Array of 4 elements, the kernel needs 8/,
    );
    assert.throws(() => b.unary('cube' as 'exp', f, f, 4), /cpu kernel unary: unknown unary op 'cube'/);
    assert.throws(() => b.random(f, 4, 'normal', -1, 0), /cpu kernel random: seed must be a whole number/);
    assert.throws(
      () => b.strided(f, 0, [1], i, 0, [1], [4]),
      /cpu kernel strided: x and out must be typed arrays of the same type/,
    );
    assert.throws(() => b.strided(f, 1, [1], f, 0, [1], [4]), /cpu kernel strided: x is read out of bounds/);
  });

  test('threads can be set and read back', () => {
    const b = cpu!;
    const before = b.threads();
    assert.equal(b.setThreads(1), 1);
    assert.equal(b.threads(), 1);
    b.setThreads(before);
    assert.equal(b.threads(), before);
  });
});
