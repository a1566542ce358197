// Tokens that need not fit in memory: a list of token files read piece by piece at the offsets asked for, so
// training on a corpus of any size holds only the windows of the current batch. The interface is the part of
// a typed array that the samplers use, so an in-memory Uint16Array is a TokenSource too.

import { closeSync, openSync, readSync } from 'node:fs';
import { DataArgumentError } from './errors.ts';
import { type TokenArray, type TokenLayout, tokenArrayFor } from './token_file.ts';

/** A token stream read by range: an in-memory token array, or ShardedTokens. */
export interface TokenSource {
  readonly length: number;
  /** Tokens [start, end), as a new or shared array. */
  subarray(start: number, end: number): TokenArray;
}

/** Token files seen as one stream, in order; reads with pread, never the whole file. */
export class ShardedTokens implements TokenSource {
  readonly length: number;
  /** starts[i] = index of shard i's first token in the stream; starts[n] = length. */
  private readonly starts: number[] = [0];
  private readonly fds: (number | null)[];

  constructor(
    readonly shards: readonly TokenLayout[],
    readonly vocabSize: number,
  ) {
    for (const shard of shards) this.starts.push(this.starts[this.starts.length - 1] + shard.count);
    this.length = this.starts[shards.length];
    this.fds = shards.map(() => null);
  }

  subarray(start: number, end: number): TokenArray {
    if (
      !(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= this.length)
    ) {
      throw new DataArgumentError('range', [start, end], `integers with 0 <= start <= end <= ${this.length}`);
    }
    const out = tokenArrayFor(this.vocabSize, end - start);
    const bytes = new Uint8Array(out.buffer);
    let at = start;
    while (at < end) {
      const i = this.shardOf(at);
      const shard = this.shards[i];
      const from = at - this.starts[i];
      const count = Math.min(end, this.starts[i + 1]) - at;
      const into = (at - start) * out.BYTES_PER_ELEMENT;
      if (shard.width === out.BYTES_PER_ELEMENT) {
        this.read(i, bytes, into, count * shard.width, shard.offset + from * shard.width);
      } else {
        // A uint32 shard of a vocabulary that fits 16 bits (or the reverse): read, then convert.
        const raw = new Uint8Array(count * shard.width);
        this.read(i, raw, 0, raw.length, shard.offset + from * shard.width);
        const ids = shard.width === 2 ? new Uint16Array(raw.buffer) : new Uint32Array(raw.buffer);
        out.set(ids, at - start);
      }
      at += count;
    }
    return out;
  }

  /** Closes the files (reads reopen them). */
  close(): void {
    this.fds.forEach((fd, i) => {
      if (fd !== null) closeSync(fd);
      this.fds[i] = null;
    });
  }

  private shardOf(index: number): number {
    let lo = 0;
    let hi = this.shards.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= index) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private read(i: number, into: Uint8Array, offset: number, length: number, position: number): void {
    let fd = this.fds[i];
    if (fd === null) this.fds[i] = fd = openSync(this.shards[i].path, 'r');
    let done = 0;
    while (done < length) {
      const n = readSync(fd, into, offset + done, length - done, position + done);
      if (n === 0)
        throw new DataArgumentError('shard', this.shards[i].path, 'a file as long as its header says');
      done += n;
    }
  }
}

/** All tokens of a source in one array (for small sources: validation splits). */
export function materialize(source: TokenSource): TokenArray {
  return source.subarray(0, source.length);
}
