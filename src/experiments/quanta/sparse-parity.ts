// Multitask sparse parity (Michaud et al. 2023): an input is a one-hot task code (nTasks bits) followed by
// n random bits; the label is the parity of the task's own fixed subset of k of those n bits. Tasks are
// drawn with Zipf probabilities ∝ rank^-zipfExponent. Everything is a pure function of the seed: the
// subsets, the streaming batches (by step) and the held-out sets.
//
// The one-hot code is kept as a task index rather than materialized: a linear layer on [one-hot, bits]
// equals an embedding lookup of the task plus a linear layer on the bits (see mlp.ts).

import { seededRng } from '../../laws/rng.ts';
import { integerIn, QuantaConfigError } from './errors.ts';
import { CategoricalSampler, checkZipf, zipfProbabilities } from './zipf.ts';

export interface SparseParityConfig {
  /** Number of tasks (quanta). */
  nTasks: number;
  /** Random bits per input. */
  n: number;
  /** Bits per task subset. */
  k: number;
  /** Zipf exponent alpha + 1 of task frequencies. */
  zipfExponent: number;
  seed: number;
}

/** A batch: task indices (B), bits (B, n) as 0/1 bytes (a 3M-sample pool is 300 MB), labels (B) in {0, 1}. */
export interface Batch {
  size: number;
  tasks: Int32Array;
  bits: Uint8Array;
  labels: Int32Array;
}

export function validateSparseParity(c: SparseParityConfig): SparseParityConfig {
  checkZipf(c.nTasks, c.zipfExponent);
  integerIn('task.n', c.n, 1);
  if (!(Number.isInteger(c.k) && c.k >= 1 && c.k <= c.n)) {
    throw new QuantaConfigError('task.k', c.k, `an integer in [1, n = ${c.n}] (a subset of the n bits)`);
  }
  integerIn('task.seed', c.seed, 0);
  return c;
}

// Independent streams from one seed: subsets, training batches, held-out sets, fixed training pools.
const STREAM = { subsets: 1, train: 2, heldOut: 3, pool: 4 } as const;
const streamSeed = (seed: number, stream: number, index: number) =>
  (Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(stream, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35)) >>> 0;

export class MultitaskSparseParity {
  readonly config: SparseParityConfig;
  /** subsets[t] = the k sorted bit positions whose parity is task t's label. */
  readonly subsets: Int32Array[];
  readonly probabilities: Float64Array;
  private readonly sampler: CategoricalSampler;

  constructor(config: SparseParityConfig) {
    this.config = validateSparseParity(config);
    const { nTasks, n, k, zipfExponent, seed } = config;
    this.probabilities = zipfProbabilities(nTasks, zipfExponent);
    this.sampler = new CategoricalSampler(this.probabilities);
    this.subsets = [];
    for (let t = 0; t < nTasks; t++) {
      // Partial Fisher-Yates: the first k entries of a shuffled 0..n-1.
      const rng = seededRng(streamSeed(seed, STREAM.subsets, t));
      const order = Int32Array.from({ length: n }, (_, i) => i);
      for (let i = 0; i < k; i++) {
        const j = i + rng.int(n - i);
        [order[i], order[j]] = [order[j], order[i]];
      }
      this.subsets.push(order.slice(0, k).sort());
    }
  }

  /** The label of `bits` (offset `at`, length n) under task t. */
  label(task: number, bits: ArrayLike<number>, at = 0): number {
    let parity = 0;
    for (const i of this.subsets[task]) parity ^= bits[at + i] & 1;
    return parity;
  }

  /** The streaming training batch of a step: fresh samples, tasks drawn by frequency. */
  trainBatch(step: number, size: number): Batch {
    return this.draw(size, streamSeed(this.config.seed, STREAM.train, step), null);
  }

  /** A fixed pool of D training samples (for data-limited runs that repeat their data). */
  trainingPool(samples: number): Batch {
    return this.draw(samples, streamSeed(this.config.seed, STREAM.pool, 0), null);
  }

  /** `perTask` held-out samples of every task, task-major (task t's rows are [t*perTask, (t+1)*perTask)). */
  heldOut(perTask: number): Batch {
    const tasks = new Int32Array(this.config.nTasks * perTask);
    for (let t = 0; t < this.config.nTasks; t++) tasks.fill(t, t * perTask, (t + 1) * perTask);
    return this.draw(tasks.length, streamSeed(this.config.seed, STREAM.heldOut, 0), tasks);
  }

  private draw(size: number, seed: number, fixedTasks: Int32Array | null): Batch {
    const { n } = this.config;
    const rng = seededRng(seed);
    const tasks = fixedTasks ?? new Int32Array(size);
    const bits = new Uint8Array(size * n);
    const labels = new Int32Array(size);
    for (let b = 0; b < size; b++) {
      if (!fixedTasks) tasks[b] = this.sampler.draw(rng.next());
      // 32 bits per draw of the generator.
      for (let i = 0; i < n; i += 32) {
        let word = Math.floor(rng.next() * 4294967296);
        for (let j = i; j < Math.min(n, i + 32); j++, word >>>= 1) bits[b * n + j] = word & 1;
      }
      labels[b] = this.label(tasks[b], bits, b * n);
    }
    return { size, tasks, bits, labels };
  }
}

/** Rows [start, start + size) of a batch, wrapping around (cycling through a fixed pool). */
export function sliceBatch(source: Batch, start: number, size: number): Batch {
  const n = source.bits.length / source.size;
  const tasks = new Int32Array(size);
  const bits = new Uint8Array(size * n);
  const labels = new Int32Array(size);
  for (let b = 0; b < size; b++) {
    const r = (start + b) % source.size;
    tasks[b] = source.tasks[r];
    labels[b] = source.labels[r];
    bits.set(source.bits.subarray(r * n, (r + 1) * n), b * n);
  }
  return { size, tasks, bits, labels };
}
