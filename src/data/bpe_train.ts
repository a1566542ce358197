// Learning byte-level BPE merges from text, the way GPT-2's tokenizer was made (Sennrich et al. 2016 on bytes).
//
// The text is cut into pre-tokens once and collapsed to word types with counts; merges then work on the types,
// not the running text. Pair counts are updated incrementally: a merge only revisits the words that contain
// the merged pair (an index pair -> words), and the most frequent pair comes from a max-heap with lazy
// deletion (an entry is trusted only if its count still matches). Ties go to the smaller (left, right) id
// pair, as in Hugging Face tokenizers, so the merge list is deterministic.

import { BYTE_TO_UNICODE, pretokenize } from './byte_level.ts';
import { DataArgumentError } from './errors.ts';

export interface BpeTrainOptions {
  /** Final vocabulary size, counting the 256 byte tokens and the special tokens. */
  vocabSize: number;
  /** Special tokens appended after the learned ones (never split, never merged). */
  specialTokens?: string[];
  /** Pairs seen fewer times than this are not merged (the vocabulary may then end up smaller). */
  minPairCount?: number;
}

export interface BpeModel {
  /** Token strings in byte-level form, indexed by id: bytes 0..255, then merges in order, then specials. */
  vocab: string[];
  /** Merges in rank order, as pairs of token strings. */
  merges: [string, string][];
  /** Special tokens with their ids. */
  specialTokens: { content: string; id: number }[];
}

const PAIR_SHIFT = 2 ** 21; // ids stay below 2^21, so a * 2^21 + b is an exact, ordered pair key

/** Max-heap of (count, pair key); larger count first, then smaller key. */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];

  get size(): number {
    return this.counts.length;
  }

  private above(i: number, j: number): boolean {
    const ci = this.counts[i];
    const cj = this.counts[j];
    return ci > cj || (ci === cj && this.keys[i] < this.keys[j]);
  }

  private swap(i: number, j: number): void {
    [this.counts[i], this.counts[j]] = [this.counts[j], this.counts[i]];
    [this.keys[i], this.keys[j]] = [this.keys[j], this.keys[i]];
  }

  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.counts.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.above(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  pop(): { count: number; key: number } {
    const top = { count: this.counts[0], key: this.keys[0] };
    const lastCount = this.counts.pop()!;
    const lastKey = this.keys.pop()!;
    if (this.counts.length > 0) {
      this.counts[0] = lastCount;
      this.keys[0] = lastKey;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < this.counts.length && this.above(l, best)) best = l;
        if (r < this.counts.length && this.above(r, best)) best = r;
        if (best === i) break;
        this.swap(i, best);
        i = best;
      }
    }
    return top;
  }
}

/** Counts pre-token types over documents: the only pass over the running text. */
export function countWords(documents: Iterable<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const doc of documents) {
    for (const word of pretokenize(doc)) counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  return counts;
}

/** Learns a byte-level BPE vocabulary of `vocabSize` tokens from documents. */
export function trainBpe(documents: Iterable<string>, options: BpeTrainOptions): BpeModel {
  const specials = options.specialTokens ?? [];
  const minPairCount = options.minPairCount ?? 2;
  if (!Number.isInteger(options.vocabSize) || options.vocabSize < 256 + specials.length) {
    throw new DataArgumentError('vocabSize', options.vocabSize, `an integer >= ${256 + specials.length}`);
  }
  if (options.vocabSize >= PAIR_SHIFT) {
    throw new DataArgumentError('vocabSize', options.vocabSize, `an integer < ${PAIR_SHIFT}`);
  }
  const encoder = new TextEncoder();
  const words: number[][] = [];
  const wordCounts: number[] = [];
  for (const [word, count] of countWords(documents)) {
    words.push(Array.from(encoder.encode(word)));
    wordCounts.push(count);
  }

  const pairCounts = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const heap = new PairHeap();
  const addPair = (key: number, delta: number, word: number) => {
    pairCounts.set(key, (pairCounts.get(key) ?? 0) + delta);
    if (delta > 0) {
      let set = pairWords.get(key);
      if (set === undefined) pairWords.set(key, (set = new Set()));
      set.add(word);
    }
  };
  words.forEach((symbols, w) => {
    for (let i = 0; i + 1 < symbols.length; i++)
      addPair(symbols[i] * PAIR_SHIFT + symbols[i + 1], wordCounts[w], w);
  });
  for (const [key, count] of pairCounts) heap.push(count, key);

  const vocab = BYTE_TO_UNICODE.slice();
  const merges: [string, string][] = [];
  const targetMerges = options.vocabSize - 256 - specials.length;
  while (merges.length < targetMerges && heap.size > 0) {
    const { count, key } = heap.pop();
    if (pairCounts.get(key) !== count) continue; // stale entry: the pair's count changed since it was pushed
    if (count < minPairCount) break;
    const left = Math.floor(key / PAIR_SHIFT);
    const right = key % PAIR_SHIFT;
    const merged = vocab.length;
    vocab.push(vocab[left] + vocab[right]);
    merges.push([vocab[left], vocab[right]]);

    // Rewrite each word holding the pair; net pair-count changes are collected, then pushed once.
    const deltas = new Map<number, number>();
    const bump = (k: number, d: number) => deltas.set(k, (deltas.get(k) ?? 0) + d);
    for (const w of pairWords.get(key) ?? []) {
      const symbols = words[w];
      const n = wordCounts[w];
      const rewritten: number[] = [];
      let changed = false;
      for (let i = 0; i < symbols.length; i++) {
        if (i + 1 < symbols.length && symbols[i] === left && symbols[i + 1] === right) {
          rewritten.push(merged);
          i++;
          changed = true;
        } else {
          rewritten.push(symbols[i]);
        }
      }
      if (!changed) continue; // the index is allowed to hold words that no longer contain the pair
      for (let i = 0; i + 1 < symbols.length; i++) bump(symbols[i] * PAIR_SHIFT + symbols[i + 1], -n);
      for (let i = 0; i + 1 < rewritten.length; i++) {
        const k = rewritten[i] * PAIR_SHIFT + rewritten[i + 1];
        bump(k, n);
        let set = pairWords.get(k);
        if (set === undefined) pairWords.set(k, (set = new Set()));
        set.add(w);
      }
      words[w] = rewritten;
    }
    for (const [k, d] of deltas) {
      if (d === 0) continue;
      const updated = (pairCounts.get(k) ?? 0) + d;
      if (updated > 0) {
        pairCounts.set(k, updated);
        heap.push(updated, k);
      } else {
        pairCounts.delete(k);
        pairWords.delete(k);
      }
    }
  }

  const specialTokens = specials.map((content, i) => ({ content, id: vocab.length + i }));
  return { vocab: [...vocab, ...specials], merges, specialTokens };
}
