// Batches for training and evaluation, as the model wants them: inputs and targets, each (B, T) row-major
// Int32Array, targets = inputs shifted by one token.
//
// Training windows start at random positions drawn from Philox with counter (step, row) under key seed, so
// batch k is a pure function of (tokens, seed, k): a resumed run sees exactly the batches it would have.

import { philox4x32 } from '../base/philox.ts';
import { DataArgumentError } from './errors.ts';
import type { TokenArray } from './token_file.ts';
import type { TokenSource } from './token_source.ts';

export interface Batch {
  inputs: Int32Array; // (B, T)
  targets: Int32Array; // (B, T)
  /** Rows actually filled (the last validation batch may have fewer than B). */
  rows: number;
}

function checkShape(tokens: TokenSource, batchSize: number, context: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new DataArgumentError('batchSize', batchSize, 'an integer >= 1');
  }
  if (!Number.isInteger(context) || context < 1)
    throw new DataArgumentError('context', context, 'an integer >= 1');
  if (tokens.length < context + 1) {
    throw new DataArgumentError(
      'context',
      context,
      `at most ${tokens.length - 1} (the split has ${tokens.length} tokens)`,
    );
  }
}

export class BatchSampler {
  private readonly bits = new Uint32Array(4);

  constructor(
    readonly tokens: TokenSource,
    readonly batchSize: number,
    readonly context: number,
    readonly seed: number,
  ) {
    checkShape(tokens, batchSize, context);
    if (!Number.isSafeInteger(seed) || seed < 0) throw new DataArgumentError('seed', seed, 'an integer >= 0');
  }

  /** Start of window `row` of batch `step`, uniform over [0, tokens - T - 1]. */
  windowStart(step: number, row: number): number {
    const hi = (x: number) => Math.floor(x / 2 ** 32) >>> 0;
    philox4x32(step >>> 0, hi(step), row >>> 0, 0x5a4d, this.seed >>> 0, hi(this.seed), this.bits);
    const u = (this.bits[0] * 2 ** 21 + (this.bits[1] >>> 11)) / 2 ** 53; // 53 random bits in [0, 1)
    return Math.floor(u * (this.tokens.length - this.context));
  }

  /** Batch number `step` (0, 1, 2, ...). */
  batch(step: number): Batch {
    if (!Number.isSafeInteger(step) || step < 0) throw new DataArgumentError('step', step, 'an integer >= 0');
    const { batchSize: B, context: T, tokens } = this;
    const inputs = new Int32Array(B * T);
    const targets = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      const start = this.windowStart(step, b);
      const window = tokens.subarray(start, start + T + 1); // one read per row, from memory or a shard
      inputs.set(window.subarray(0, T), b * T);
      targets.set(window.subarray(1), b * T);
    }
    return { inputs, targets, rows: B };
  }
}

/**
 * Every validation token in order, as windows of T+1 tokens with stride T, so each token after the first is
 * predicted exactly once; the tail shorter than a full window (< T tokens) is left out to keep shapes fixed.
 * Unfilled rows of the last batch are zero; `rows` says how many are real.
 */
export function* validationBatches(tokens: TokenArray, batchSize: number, context: number): Generator<Batch> {
  checkShape(tokens, batchSize, context);
  const T = context;
  const windows = Math.floor((tokens.length - 1) / T);
  for (let first = 0; first < windows; first += batchSize) {
    const rows = Math.min(batchSize, windows - first);
    const inputs = new Int32Array(batchSize * T);
    const targets = new Int32Array(batchSize * T);
    for (let r = 0; r < rows; r++) {
      const start = (first + r) * T;
      inputs.set(tokens.subarray(start, start + T), r * T);
      targets.set(tokens.subarray(start + 1, start + T + 1), r * T);
    }
    yield { inputs, targets, rows };
  }
}
