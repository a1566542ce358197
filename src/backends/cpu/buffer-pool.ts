// Reuses the ArrayBuffers behind freed storages, so a training loop that allocates the same sizes every step
// stops allocating after its first step (and the garbage collector has nothing to churn). Buffers are kept in
// size classes of four steps per octave (at most 25% slack); a storage is a typed-array view of exactly the
// requested length onto a pooled buffer.
import { CpuBackendError } from './errors.ts';

const MIN_CLASS_BYTES = 64;

/** The smallest size class holding `bytes`: m * 2^e with m in {4, 5, 6, 7}. */
export function sizeClass(bytes: number): number {
  if (bytes <= MIN_CLASS_BYTES) return MIN_CLASS_BYTES;
  const e = Math.floor(Math.log2(bytes)) - 2;
  const unit = 2 ** e;
  return Math.ceil(bytes / unit) * unit;
}

export interface PoolStats {
  /** Bytes sitting in the pool, ready for reuse. */
  pooledBytes: number;
  /** Bytes handed out and not yet returned. */
  liveBytes: number;
  allocations: number;
  reuses: number;
}

export class BufferPool {
  private readonly byClass = new Map<number, ArrayBuffer[]>();
  private readonly inPool = new Set<ArrayBuffer>();
  private readonly owned = new WeakSet<ArrayBuffer>();
  private stats_: PoolStats = { pooledBytes: 0, liveBytes: 0, allocations: 0, reuses: 0 };

  /** maxPooledBytes bounds what the pool keeps: past it, released buffers go to the garbage collector. */
  constructor(readonly maxPooledBytes = 2 ** 31) {}

  /** A buffer of at least `bytes`; `fresh` is false when it was reused (and so holds old data). */
  acquire(bytes: number): { buffer: ArrayBuffer; fresh: boolean } {
    const size = sizeClass(bytes);
    const buffer = this.byClass.get(size)?.pop();
    this.stats_.liveBytes += size;
    if (buffer) {
      this.inPool.delete(buffer);
      this.stats_.pooledBytes -= size;
      this.stats_.reuses++;
      return { buffer, fresh: false };
    }
    const created = new ArrayBuffer(size);
    this.owned.add(created);
    this.stats_.allocations++;
    return { buffer: created, fresh: true };
  }

  release(buffer: ArrayBuffer): void {
    if (!this.owned.has(buffer))
      throw new CpuBackendError('cpu free: this storage was not allocated by this backend');
    if (this.inPool.has(buffer)) throw new CpuBackendError('cpu free: storage freed twice');
    const size = buffer.byteLength;
    this.stats_.liveBytes -= size;
    if (this.stats_.pooledBytes + size > this.maxPooledBytes) return;
    let list = this.byClass.get(size);
    if (!list) this.byClass.set(size, (list = []));
    list.push(buffer);
    this.inPool.add(buffer);
    this.stats_.pooledBytes += size;
  }

  /** Drops every pooled buffer (live storages are untouched). */
  trim(): void {
    this.byClass.clear();
    this.inPool.clear();
    this.stats_.pooledBytes = 0;
  }

  stats(): PoolStats {
    return { ...this.stats_ };
  }
}
